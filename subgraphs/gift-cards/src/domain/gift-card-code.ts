// Gift card codes: random codes with 100 bits of entropy in Crockford's base-32 alphabet
// (no I, L, O or U, so nothing is misread), grouped for reading; chosen promotional codes;
// the normal form codes are compared in; and the keyed hash they are stored as.

import { createHmac, randomBytes } from 'node:crypto';
import { BadUserInputError, GiftCardNotFoundError } from '@giftpay/common';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_CODE_LENGTH = 20; // 20 × 5 bits = 100 bits
const GROUP = 5;

/** A fresh random code, e.g. `7K2QF-9XW3M-HT4PZ-0RBD8`. */
export function generateCode(): string {
  // 32 divides 256, so taking the low 5 bits of each byte keeps every character equally likely.
  const bytes = randomBytes(RANDOM_CODE_LENGTH);
  let code = '';
  for (let i = 0; i < RANDOM_CODE_LENGTH; i += 1) {
    if (i > 0 && i % GROUP === 0) code += '-';
    code += ALPHABET[(bytes[i] ?? 0) & 31];
  }
  return code;
}

/** Codes compare without regard to case, spaces or dashes: `ab12-cd34` finds `AB12CD34`. */
export function normalizeCode(code: string): string {
  return code.replace(/[\s-]+/g, '').toUpperCase();
}

/**
 * A code as a user submits it, normalized. An empty one is malformed input (BAD_USER_INPUT);
 * any other that no card could have (a character outside letters, digits, spaces and dashes,
 * or over 64 long) is GIFT_CARD_NOT_FOUND, as the contract answers a code no card has,
 * without looking it up.
 */
export function checkSubmittedCode(code: string): string {
  const normalized = normalizeCode(code);
  if (normalized === '') throw new BadUserInputError('Enter a gift card code.');
  if (normalized.length > 64 || !/^[A-Z0-9]+$/.test(normalized)) throw new GiftCardNotFoundError();
  return normalized;
}

/**
 * A code an admin chooses for a promotion: 6 to 32 letters, digits and dashes, as the contract
 * has it (`WIN-26` among them), of which at least four letters or digits: codes compare
 * without their dashes, so `-----1` would be the code `1`, and a card is shown and found by
 * its last four (`last4`).
 */
export function checkChosenCode(code: string): string {
  const trimmed = code.trim();
  if (!/^[A-Za-z0-9-]{6,32}$/.test(trimmed) || normalizeCode(trimmed).length < 4) {
    throw new BadUserInputError('A chosen code is 6 to 32 letters, digits and dashes, with at least four letters or digits.');
  }
  return trimmed.toUpperCase();
}

export function lastFour(normalized: string): string {
  return normalized.slice(-4);
}

export function hashCode(normalized: string, key: string): string {
  return createHmac('sha256', key).update(normalized).digest('hex');
}
