// Ledger rules that need neither GraphQL nor the database: what a request is, and the
// fingerprint that tells a retry of it from a different request under the same key.

import { createHash } from 'node:crypto';
import { BadUserInputError, hasUnprintable } from '@giftpay/common';

export type TransactionKind = 'CREDIT' | 'DEBIT';
export type Operation = 'credit' | 'spend' | 'transfer' | 'adjustment';

export const MAX_DESCRIPTION_LENGTH = 200;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

export function checkDescription(description: string): string {
  const trimmed = description.trim();
  if (trimmed === '' || trimmed.length > MAX_DESCRIPTION_LENGTH || hasUnprintable(trimmed)) {
    throw new BadUserInputError(`A description is 1 to ${MAX_DESCRIPTION_LENGTH} printable characters.`);
  }
  return trimmed;
}

export function checkIdempotencyKey(key: string): string {
  if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || hasUnprintable(key)) {
    throw new BadUserInputError(`An idempotency key is 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable characters; a UUID is a good choice.`);
  }
  return key;
}

/** A stable fingerprint of everything that defines a request's effect. */
export function requestFingerprint(operation: Operation, fields: Record<string, string | bigint>): string {
  const canonical = JSON.stringify([
    operation,
    ...Object.keys(fields)
      .sort()
      .map((name) => [name, String(fields[name])]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
