// Ledger rules without GraphQL or the database: descriptions, idempotency keys and the
// fingerprint that tells a retry from a different request under the same key.

import { BadUserInputError } from '@giftpay/common';
import { describe, expect, it } from 'vitest';
import { checkDescription, checkIdempotencyKey, MAX_DESCRIPTION_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, requestFingerprint } from '../src/domain/ledger.ts';

describe('checkDescription', () => {
  it('trims surrounding spaces', () => {
    expect(checkDescription('  Coffee with Bob \n')).toBe('Coffee with Bob');
  });

  it('accepts 1 to 200 characters after trimming', () => {
    expect(MAX_DESCRIPTION_LENGTH).toBe(200);
    expect(checkDescription('x')).toBe('x');
    expect(checkDescription('d'.repeat(200))).toBe('d'.repeat(200));
    expect(checkDescription(`   ${'d'.repeat(200)}   `)).toBe('d'.repeat(200));
  });

  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['only whitespace', '\t\n '],
    ['201 characters', 'd'.repeat(201)],
  ])('refuses a description that is %s', (_label, description) => {
    expect(() => checkDescription(description)).toThrow(BadUserInputError);
  });

  it.each([
    ['a NUL', 'a\u0000b'],
    ['a bell', 'ring\u0007'],
    ['a newline inside', 'two\nlines'],
    ['DEL', 'x\u007f'],
  ])('refuses a description containing %s with BAD_USER_INPUT', (_label, description) => {
    expect(() => checkDescription(description)).toThrow(BadUserInputError);
  });
});

describe('checkIdempotencyKey', () => {
  it('accepts a UUID and returns it unchanged', () => {
    const key = '3f1c8b7e-2a4d-4e9b-8c1a-5d6e7f8a9b0c';
    expect(checkIdempotencyKey(key)).toBe(key);
  });

  it('accepts 1 to 200 characters', () => {
    expect(MAX_IDEMPOTENCY_KEY_LENGTH).toBe(200);
    expect(checkIdempotencyKey('k')).toBe('k');
    expect(checkIdempotencyKey('k'.repeat(200))).toBe('k'.repeat(200));
  });

  it('does not trim, since keys are compared exactly', () => {
    expect(checkIdempotencyKey(' key ')).toBe(' key ');
  });

  it.each([
    ['empty', ''],
    ['201 characters long', 'k'.repeat(201)],
  ])('refuses a key that is %s', (_label, key) => {
    expect(() => checkIdempotencyKey(key)).toThrow(BadUserInputError);
  });

  it.each([
    ['NUL', 'key\u0000'],
    ['a newline', 'key\nother'],
    ['a carriage return', 'key\r'],
    ['a tab', '\tkey'],
    ['escape', 'key\u001b[31m'],
    ['unit separator', 'key\u001f'],
    ['DEL', 'key\u007f'],
  ])('refuses a key containing the control character %s', (_label, key) => {
    expect(() => checkIdempotencyKey(key)).toThrow(BadUserInputError);
  });

  it('accepts printable non-ASCII characters', () => {
    expect(checkIdempotencyKey('kauf-ß-😀')).toBe('kauf-ß-😀');
  });

  it.each([
    ['a lone high surrogate', 'key-\ud800'],
    ['a lone low surrogate', '\udfff-key'],
    ['an emoji cut in half', '😀'.slice(0, 1)],
  ])('refuses a key or a description holding %s, which could not be stored as sent', (_label, text) => {
    expect(() => checkIdempotencyKey(text)).toThrow(BadUserInputError);
    expect(() => checkDescription(text)).toThrow(BadUserInputError);
  });
});

describe('requestFingerprint', () => {
  const fields = { amount: 1250n, currency: 'USD', description: 'Coffee', recipient: 'bob' };

  it('is a stable SHA-256 hex digest', () => {
    const fingerprint = requestFingerprint('transfer', fields);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(requestFingerprint('transfer', { ...fields })).toBe(fingerprint);
  });

  it('does not depend on the order of the fields', () => {
    const reordered = { recipient: 'bob', description: 'Coffee', currency: 'USD', amount: 1250n };
    expect(requestFingerprint('transfer', reordered)).toBe(requestFingerprint('transfer', fields));
  });

  it('treats a bigint and its decimal string as the same value', () => {
    expect(requestFingerprint('spend', { amount: 1250n })).toBe(requestFingerprint('spend', { amount: '1250' }));
  });

  it.each([
    ['amount', { amount: 1251n }],
    ['currency', { currency: 'EUR' }],
    ['description', { description: 'Coffee!' }],
    ['recipient', { recipient: 'Bob' }],
  ])('changes when the %s changes', (_label, change) => {
    expect(requestFingerprint('transfer', { ...fields, ...change })).not.toBe(requestFingerprint('transfer', fields));
  });

  it('changes when a field is added or removed', () => {
    const { recipient: _recipient, ...withoutRecipient } = fields;
    expect(requestFingerprint('transfer', withoutRecipient)).not.toBe(requestFingerprint('transfer', fields));
  });

  it('changes with the operation for the same fields', () => {
    const spend = requestFingerprint('spend', fields);
    const credit = requestFingerprint('credit', fields);
    const transfer = requestFingerprint('transfer', fields);
    expect(new Set([spend, credit, transfer]).size).toBe(3);
  });

  it('tells apart values swapped between fields and text moved across a field boundary', () => {
    expect(requestFingerprint('spend', { a: '1', b: '2' })).not.toBe(requestFingerprint('spend', { a: '2', b: '1' }));
    expect(requestFingerprint('spend', { currency: 'US', description: 'DCoffee' })).not.toBe(
      requestFingerprint('spend', { currency: 'USD', description: 'Coffee' }),
    );
  });
});
