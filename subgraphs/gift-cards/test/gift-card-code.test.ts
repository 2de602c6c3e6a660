// Gift card codes: random codes in Crockford's base-32, the normal form codes compare in,
// the checks on submitted and chosen codes, and the keyed hash codes are stored as.

import { BadUserInputError, GiftCardNotFoundError } from '@giftpay/common';
import { describe, expect, it } from 'vitest';
import { checkChosenCode, checkSubmittedCode, generateCode, hashCode, lastFour, normalizeCode } from '../src/domain/gift-card-code.ts';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_FORMAT = new RegExp(`^[${CROCKFORD}]{5}(-[${CROCKFORD}]{5}){3}$`);

describe('generateCode', () => {
  const codes = Array.from({ length: 10_000 }, () => generateCode());

  it('produces four dash-separated groups of five Crockford base-32 characters', () => {
    for (const code of codes) expect(code).toMatch(CODE_FORMAT);
  });

  it('carries at least 100 bits: 20 characters from an alphabet of 32', () => {
    const [code = ''] = codes;
    expect(normalizeCode(code)).toHaveLength(20);
    expect(normalizeCode(code).length * Math.log2(CROCKFORD.length)).toBeGreaterThanOrEqual(100);
  });

  it('produces no duplicates among 10,000 codes', () => {
    expect(new Set(codes).size).toBe(10_000);
  });

  it('uses every character of the alphabet and never I, L, O or U', () => {
    const seen = new Set(codes.join('').replaceAll('-', ''));
    expect([...seen].sort().join('')).toBe(CROCKFORD);
    for (const confusable of ['I', 'L', 'O', 'U']) expect(seen.has(confusable)).toBe(false);
  });

  it('is already in the form a submitted code is checked into, minus the dashes', () => {
    const [code = ''] = codes;
    expect(checkSubmittedCode(code)).toBe(code.replaceAll('-', ''));
    expect(checkSubmittedCode(code.toLowerCase())).toBe(code.replaceAll('-', ''));
  });
});

describe('normalizeCode', () => {
  it.each([
    ['ab12-cd34', 'AB12CD34'],
    ['AB12CD34', 'AB12CD34'],
    [' ab12 cd34 ', 'AB12CD34'],
    ['ab--12\t\ncd', 'AB12CD'],
    ['7k2qf-9xw3m-ht4pz-0rbd8', '7K2QF9XW3MHT4PZ0RBD8'],
  ])('normalizes %j to %j', (code, normalized) => {
    expect(normalizeCode(code)).toBe(normalized);
  });
});

describe('checkSubmittedCode', () => {
  it('returns the normalized code', () => {
    expect(checkSubmittedCode(' ab12-cd34 ')).toBe('AB12CD34');
  });

  it.each(['', '   ', '-', '----', ' - - ', '\t\n'])('refuses %j, which holds no code at all, with BAD_USER_INPUT', (code) => {
    expect(() => checkSubmittedCode(code)).toThrow(BadUserInputError);
    expect(() => checkSubmittedCode(code)).toThrow(/Enter a gift card code/);
  });

  it.each(['AB!CD', 'AB_CD', 'WRONG_CODE', 'AB.CD', 'ÄBCDE', 'AB12;DROP', "AB' OR '1'='1", 'AB12\u0000'])(
    'answers %j, which no card can have, GIFT_CARD_NOT_FOUND as for any code no card has',
    (code) => {
      expect(() => checkSubmittedCode(code)).toThrow(GiftCardNotFoundError);
    },
  );

  it('accepts up to 64 letters and digits; a longer code is one no card has', () => {
    expect(checkSubmittedCode('A'.repeat(64))).toBe('A'.repeat(64));
    expect(() => checkSubmittedCode('A'.repeat(65))).toThrow(GiftCardNotFoundError);
  });
});

describe('checkChosenCode', () => {
  it.each([
    ['summer', 'SUMMER'],
    ['Summer-2026', 'SUMMER-2026'],
    ['  promo-code  ', 'PROMO-CODE'],
    ['A'.repeat(32), 'A'.repeat(32)],
    ['WIN-26', 'WIN-26'],
    ['ab-cd-e', 'AB-CD-E'],
    ['--ab-12', '--AB-12'],
  ])('accepts %j as %j', (code, chosen) => {
    expect(checkChosenCode(code)).toBe(chosen);
  });

  it.each([
    ['5 characters', 'abcde'],
    ['33 characters', 'A'.repeat(33)],
    ['a space inside', 'promo code'],
    ['an underscore', 'promo_code'],
    ['a non-ASCII letter', 'sömmer'],
    ['only dashes', '------'],
    ['fewer than four letters or digits', '-----1'],
    ['three letters or digits', 'a-b-c-'],
    ['nothing', ''],
  ])('refuses a chosen code with %s', (_label, code) => {
    expect(() => checkChosenCode(code)).toThrow(BadUserInputError);
  });
});

describe('lastFour', () => {
  it('returns the last four characters of a normalized code', () => {
    expect(lastFour('7K2QF9XW3MHT4PZ0RBD8')).toBe('RBD8');
  });

  it('returns the whole code when it is shorter than four characters', () => {
    expect(lastFour('AB')).toBe('AB');
  });
});

describe('hashCode', () => {
  const key = 'code-hash-key-1';

  it('is deterministic for the same code and key', () => {
    expect(hashCode('AB12CD34', key)).toBe(hashCode('AB12CD34', key));
    expect(hashCode('AB12CD34', key)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is keyed: another key gives another hash', () => {
    expect(hashCode('AB12CD34', 'code-hash-key-2')).not.toBe(hashCode('AB12CD34', key));
  });

  it('differs for different codes', () => {
    expect(hashCode('AB12CD35', key)).not.toBe(hashCode('AB12CD34', key));
  });

  it('hashes every spelling of a code to the same value once checked', () => {
    const stored = hashCode(checkSubmittedCode('AB12CD34'), key);
    expect(hashCode(checkSubmittedCode('ab12-cd34'), key)).toBe(stored);
    expect(hashCode(checkSubmittedCode(' ab12 cd34 '), key)).toBe(stored);
  });

  it('does not contain the code itself', () => {
    expect(hashCode('AB12CD34', key).toUpperCase()).not.toContain('AB12CD34');
  });
});
