// What a gift card's state means: its status, why a claim is refused, the bounds on issuing,
// and the back-off between delivery attempts.

import { BadUserInputError, GiftCardDisabledError, GiftCardExpiredError, GiftCardUsedUpError } from '@giftpay/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkIssueRequest, type GiftCardState, MAX_ISSUE_COUNT, MAX_USAGE_LIMIT, refusalFor, retryDelayMs, statusOf } from '../src/domain/gift-card.ts';

const now = new Date('2026-11-24T10:00:00.000Z');
const earlier = new Date(now.getTime() - 60_000);
const later = new Date(now.getTime() + 60_000);

function card(overrides: Partial<GiftCardState> = {}): GiftCardState {
  return { disabledAt: null, expiresAt: null, usageLimit: 1, redemptionCount: 0, ...overrides };
}

describe('statusOf', () => {
  it('is ACTIVE for an enabled, unexpired card with redemptions left', () => {
    expect(statusOf(card(), now)).toBe('ACTIVE');
    expect(statusOf(card({ usageLimit: 5, redemptionCount: 4, expiresAt: later }), now)).toBe('ACTIVE');
  });

  it('is USED_UP once the redemptions reach the usage limit', () => {
    expect(statusOf(card({ usageLimit: 5, redemptionCount: 5 }), now)).toBe('USED_UP');
    expect(statusOf(card({ usageLimit: 5, redemptionCount: 6 }), now)).toBe('USED_UP');
  });

  it('is EXPIRED once the expiry has passed', () => {
    expect(statusOf(card({ expiresAt: earlier }), now)).toBe('EXPIRED');
  });

  it('counts an expiry of exactly now as expired, and one millisecond later as active', () => {
    expect(statusOf(card({ expiresAt: new Date(now.getTime()) }), now)).toBe('EXPIRED');
    expect(statusOf(card({ expiresAt: new Date(now.getTime() + 1) }), now)).toBe('ACTIVE');
  });

  it('puts EXPIRED over USED_UP', () => {
    expect(statusOf(card({ expiresAt: earlier, redemptionCount: 1 }), now)).toBe('EXPIRED');
  });

  it('puts DISABLED over EXPIRED and USED_UP', () => {
    expect(statusOf(card({ disabledAt: earlier }), now)).toBe('DISABLED');
    expect(statusOf(card({ disabledAt: earlier, expiresAt: earlier, redemptionCount: 1 }), now)).toBe('DISABLED');
  });
});

describe('refusalFor', () => {
  it('refuses a disabled card with GIFT_CARD_DISABLED, even if it has also expired and been used up', () => {
    const refusal = refusalFor(card({ disabledAt: earlier, expiresAt: earlier, redemptionCount: 1 }), now);
    expect(refusal).toBeInstanceOf(GiftCardDisabledError);
    expect(refusal.code).toBe('GIFT_CARD_DISABLED');
  });

  it('refuses an expired card with GIFT_CARD_EXPIRED, even if it has also been used up', () => {
    const refusal = refusalFor(card({ expiresAt: now, redemptionCount: 1 }), now);
    expect(refusal).toBeInstanceOf(GiftCardExpiredError);
    expect(refusal.code).toBe('GIFT_CARD_EXPIRED');
  });

  it('refuses a used-up card with GIFT_CARD_USED_UP', () => {
    const refusal = refusalFor(card({ usageLimit: 3, redemptionCount: 3, expiresAt: later }), now);
    expect(refusal).toBeInstanceOf(GiftCardUsedUpError);
    expect(refusal.code).toBe('GIFT_CARD_USED_UP');
  });
});

describe('checkIssueRequest', () => {
  it('accepts the smallest and largest batches', () => {
    expect(() => checkIssueRequest({ count: 1, usageLimit: 1 }, now)).not.toThrow();
    expect(() => checkIssueRequest({ count: MAX_ISSUE_COUNT, usageLimit: MAX_USAGE_LIMIT }, now)).not.toThrow();
    expect(MAX_ISSUE_COUNT).toBe(10_000);
  });

  it.each([0, -1, 10_001, 1.5, Number.NaN])('refuses count %s', (count) => {
    expect(() => checkIssueRequest({ count, usageLimit: 1 }, now)).toThrow(BadUserInputError);
    expect(() => checkIssueRequest({ count, usageLimit: 1 }, now)).toThrow(/`count`/);
  });

  it.each([0, -1, MAX_USAGE_LIMIT + 1, 2.5])('refuses usageLimit %s', (usageLimit) => {
    expect(() => checkIssueRequest({ count: 1, usageLimit }, now)).toThrow(/`usageLimit`/);
  });

  it('allows a chosen code only with count 1', () => {
    expect(() => checkIssueRequest({ count: 1, usageLimit: 100, code: 'SUMMER-2026' }, now)).not.toThrow();
    expect(() => checkIssueRequest({ count: 2, usageLimit: 1, code: 'SUMMER-2026' }, now)).toThrow(/count: 1/);
    expect(() => checkIssueRequest({ count: 2, usageLimit: 1, code: null }, now)).not.toThrow();
  });

  it('refuses an expiry in the past or exactly now, and accepts one in the future', () => {
    expect(() => checkIssueRequest({ count: 1, usageLimit: 1, expiresAt: earlier }, now)).toThrow(/`expiresAt` must be in the future/);
    expect(() => checkIssueRequest({ count: 1, usageLimit: 1, expiresAt: new Date(now.getTime()) }, now)).toThrow(BadUserInputError);
    expect(() => checkIssueRequest({ count: 1, usageLimit: 1, expiresAt: later }, now)).not.toThrow();
    expect(() => checkIssueRequest({ count: 1, usageLimit: 1, expiresAt: null }, now)).not.toThrow();
  });
});

describe('retryDelayMs', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('waits between half and all of base × 2^attempts', () => {
    for (let sample = 0; sample < 1000; sample += 1) {
      const delay = retryDelayMs(3);
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(4000);
      expect(delay).toBeLessThanOrEqual(8000);
    }
  });

  it('grows with each attempt until the cap', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const delays = Array.from({ length: 8 }, (_, attempts) => retryDelayMs(attempts));
    expect(delays).toEqual([750, 1500, 3000, 6000, 12_000, 24_000, 48_000, 96_000]);
  });

  it('never exceeds the cap, however many attempts were made', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    expect(retryDelayMs(9)).toBeLessThanOrEqual(300_000);
    expect(retryDelayMs(9)).toBeGreaterThan(290_000);
    expect(retryDelayMs(1000)).toBeLessThanOrEqual(300_000);
    expect(Number.isFinite(retryDelayMs(1_000_000))).toBe(true);
  });

  it('waits at least half the cap once capped', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(retryDelayMs(50)).toBe(150_000);
  });

  it('honours a custom base and cap', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(retryDelayMs(0, 200, 1000)).toBe(100);
    expect(retryDelayMs(10, 200, 1000)).toBe(500);
  });
});
