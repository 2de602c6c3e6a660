// Cursor pagination shared by every connection: opaque cursors and the bounds on `first`.

import { BadUserInputError } from './errors.ts';

export const MAX_PAGE_SIZE = 100;

export function checkFirst(first: number | null | undefined, fallback: number): number {
  const value = first ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`\`first\` must be between 1 and ${MAX_PAGE_SIZE}, got ${value}.`);
  }
  return value;
}

export function encodeCursor(parts: readonly (string | number | bigint)[]): string {
  return Buffer.from(JSON.stringify(parts.map(String)), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, arity: number): string[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.length === arity && parts.every((part) => typeof part === 'string')) {
      return parts as string[];
    }
  } catch {
    // fall through to the error below
  }
  throw new BadUserInputError('`after` is not a cursor this API issued.');
}

/** The largest PostgreSQL bigint: no sequence number is above it. */
const MAX_SEQ = 9_223_372_036_854_775_807n;

/** Decodes a cursor made by `encodeCursor([seq])`: a non-negative integer, or BAD_USER_INPUT. */
export function decodeSeqCursor(cursor: string | null | undefined): bigint | null {
  if (cursor === null || cursor === undefined) return null;
  const [seq] = decodeCursor(cursor, 1);
  if (seq === undefined || !/^\d{1,19}$/.test(seq) || BigInt(seq) > MAX_SEQ) throw new BadUserInputError('`after` is not a cursor this API issued.');
  return BigInt(seq);
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Builds a connection from `first + 1` rows fetched, so `hasNextPage` costs no extra query. */
export function toConnection<T>(rows: readonly T[], first: number, cursorOf: (row: T) => string): Connection<T> {
  const page = rows.slice(0, first);
  const edges = page.map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
