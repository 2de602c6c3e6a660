// What a gift card's state means: its status, and why a claim of it was refused.

import { BadUserInputError, type DomainError, GiftCardDisabledError, GiftCardExpiredError, GiftCardUsedUpError, hasUnprintable } from '@giftpay/common';

export type GiftCardStatus = 'ACTIVE' | 'USED_UP' | 'DISABLED' | 'EXPIRED';

export interface GiftCardState {
  readonly disabledAt: Date | null;
  readonly expiresAt: Date | null;
  readonly usageLimit: number;
  readonly redemptionCount: number;
}

export const MAX_ISSUE_COUNT = 10_000;
export const MAX_USAGE_LIMIT = 10_000_000;

/** Disabled wins over expired, expired over used up: the status says what an admin or time did last. */
export function statusOf(card: GiftCardState, now: Date): GiftCardStatus {
  if (card.disabledAt) return 'DISABLED';
  if (card.expiresAt && card.expiresAt.getTime() <= now.getTime()) return 'EXPIRED';
  if (card.redemptionCount >= card.usageLimit) return 'USED_UP';
  return 'ACTIVE';
}

/** The error for a card that could not be claimed, judged on its latest state. */
export function refusalFor(card: GiftCardState, now: Date): DomainError {
  switch (statusOf(card, now)) {
    case 'DISABLED':
      return new GiftCardDisabledError();
    case 'EXPIRED':
      return new GiftCardExpiredError();
    default:
      return new GiftCardUsedUpError();
  }
}

export function checkIssueRequest(input: { count: number; usageLimit: number; code?: string | null; expiresAt?: Date | null }, now: Date): void {
  if (!Number.isInteger(input.count) || input.count < 1 || input.count > MAX_ISSUE_COUNT) {
    throw new BadUserInputError(`\`count\` must be between 1 and ${MAX_ISSUE_COUNT}.`);
  }
  if (!Number.isInteger(input.usageLimit) || input.usageLimit < 1 || input.usageLimit > MAX_USAGE_LIMIT) {
    throw new BadUserInputError(`\`usageLimit\` must be between 1 and ${MAX_USAGE_LIMIT}.`);
  }
  if (input.code != null && input.count !== 1) throw new BadUserInputError('A chosen `code` can only be issued with `count: 1`.');
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) throw new BadUserInputError('`expiresAt` must be in the future.');
}

/** Wait before the next delivery attempt of an owed credit: exponential, capped, jittered. */
export function retryDelayMs(attempts: number, baseMs = 1000, capMs = 5 * 60_000): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.min(attempts, 20));
  return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}

export const MAX_REASON_LENGTH = 200;

/** An admin's reason for a change, kept in the card's history: optional, 1 to 200 printable characters once trimmed. */
export function checkReason(reason: string | null | undefined): string | null {
  if (reason == null) return null;
  const trimmed = reason.trim();
  if (trimmed === '' || trimmed.length > MAX_REASON_LENGTH || hasUnprintable(trimmed)) {
    throw new BadUserInputError(`A reason is 1 to ${MAX_REASON_LENGTH} printable characters; leave it out to give none.`);
  }
  return trimmed;
}
