// Cursor pagination: bounded page sizes, opaque cursors that survive a round trip, and
// connections built from `first + 1` rows.

import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../src/errors.ts';
import { checkFirst, decodeCursor, decodeSeqCursor, encodeCursor, MAX_PAGE_SIZE, toConnection } from '../src/pagination.ts';

describe('checkFirst', () => {
  it('uses the default when `first` is null or absent', () => {
    expect(checkFirst(null, 20)).toBe(20);
    expect(checkFirst(undefined, 10)).toBe(10);
  });

  it('prefers an explicit `first` over the default', () => {
    expect(checkFirst(5, 20)).toBe(5);
  });

  it('accepts the bounds 1 and 100', () => {
    expect(checkFirst(1, 20)).toBe(1);
    expect(checkFirst(MAX_PAGE_SIZE, 20)).toBe(100);
  });

  it.each([0, -1, 101, 1000, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses first = %s', (first) => {
    expect(() => checkFirst(first, 20)).toThrow(BadUserInputError);
  });

  it('names the allowed range in the refusal', () => {
    expect(() => checkFirst(101, 20)).toThrow(/between 1 and 100, got 101/);
  });
});

describe('encodeCursor and decodeCursor', () => {
  it('round-trips the parts of a cursor as strings', () => {
    const parts = ['2026-11-24T10:00:00.000Z', '0b6c6f0e-6d3c-4c1e-9a59-0f0cc4b9a0a1'];
    expect(decodeCursor(encodeCursor(parts), 2)).toEqual(parts);
  });

  it('turns numbers and bigints into their exact decimal strings', () => {
    expect(decodeCursor(encodeCursor([9_223_372_036_854_775_807n, 42, 'x']), 3)).toEqual(['9223372036854775807', '42', 'x']);
  });

  it('keeps parts that contain quotes, commas and non-ASCII text intact', () => {
    const parts = ['a,"b"', 'ß—é😀'];
    expect(decodeCursor(encodeCursor(parts), 2)).toEqual(parts);
  });

  it('produces a URL-safe opaque string', () => {
    expect(encodeCursor(['a/b+c', '???'])).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  const encoded = (json: string) => Buffer.from(json, 'utf8').toString('base64url');

  it.each([
    ['an empty string', ''],
    ['plain text', 'not-a-cursor'],
    ['punctuation', '!!!'],
    ['a JSON object', encoded('{"a":"1"}')],
    ['a JSON string', encoded('"x"')],
    ['JSON null', encoded('null')],
    ['numbers instead of strings', encoded('[1,2]')],
    ['too few parts', encoded('["a"]')],
    ['too many parts', encoded('["a","b","c"]')],
    ['truncated JSON', encoded('["a","b"')],
  ])('refuses %s with BAD_USER_INPUT', (_label, cursor) => {
    expect(() => decodeCursor(cursor, 2)).toThrow(BadUserInputError);
    expect(() => decodeCursor(cursor, 2)).toThrow(/not a cursor this API issued/);
  });
});

describe('decodeSeqCursor', () => {
  it('is null when there is no cursor', () => {
    expect(decodeSeqCursor(null)).toBeNull();
    expect(decodeSeqCursor(undefined)).toBeNull();
  });

  it('round-trips a sequence number as a bigint', () => {
    expect(decodeSeqCursor(encodeCursor([42n]))).toBe(42n);
    expect(decodeSeqCursor(encodeCursor([0]))).toBe(0n);
    expect(decodeSeqCursor(encodeCursor([9_223_372_036_854_775_807n]))).toBe(9_223_372_036_854_775_807n);
  });

  it.each([
    ['a negative number', encodeCursor([-1n])],
    ['a decimal', encodeCursor(['1.5'])],
    ['text', encodeCursor(['abc'])],
    ['an empty part', encodeCursor([''])],
    ['20 digits', encodeCursor(['12345678901234567890'])],
    ['two parts', encodeCursor([1n, 2n])],
    ['garbage', 'not-a-cursor'],
  ])('refuses a cursor holding %s with BAD_USER_INPUT', (_label, cursor) => {
    expect(() => decodeSeqCursor(cursor)).toThrow(BadUserInputError);
  });

  it('refuses a sequence number above the bigint maximum with BAD_USER_INPUT, and takes the maximum itself', () => {
    expect(() => decodeSeqCursor(encodeCursor(['9999999999999999999']))).toThrow(BadUserInputError);
    expect(() => decodeSeqCursor(encodeCursor(['9223372036854775808']))).toThrow(BadUserInputError);
    expect(decodeSeqCursor(encodeCursor(['9223372036854775807']))).toBe(9223372036854775807n);
  });
});

describe('toConnection', () => {
  const rows = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
  const cursorOf = (row: { id: string }) => `cursor-${row.id}`;

  it('reports a next page when more rows than `first` were fetched, ending at the last row shown', () => {
    const connection = toConnection(rows, 2, cursorOf);
    expect(connection.edges).toEqual([
      { cursor: 'cursor-a', node: { id: 'a' } },
      { cursor: 'cursor-b', node: { id: 'b' } },
    ]);
    expect(connection.pageInfo).toEqual({ hasNextPage: true, endCursor: 'cursor-b' });
  });

  it('reports no next page when exactly `first` rows were fetched', () => {
    const connection = toConnection(rows, 3, cursorOf);
    expect(connection.edges).toHaveLength(3);
    expect(connection.pageInfo).toEqual({ hasNextPage: false, endCursor: 'cursor-c' });
  });

  it('has a null end cursor for an empty page', () => {
    expect(toConnection([], 10, cursorOf)).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });
});
