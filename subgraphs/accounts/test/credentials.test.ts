// The contract's rules for usernames and passwords.

import { BadUserInputError } from '@giftpay/common';
import { describe, expect, it } from 'vitest';
import { checkPassword, checkUsername, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, usernameKey } from '../src/domain/credentials.ts';

describe('checkUsername', () => {
  it.each(['abc', 'Alice_01', 'john.doe', 'x-y-z', 'a'.repeat(32), '007'])('accepts %j', (username) => {
    expect(checkUsername(username)).toBe(username);
  });

  it('keeps the case the user chose', () => {
    expect(checkUsername('AliceSmith')).toBe('AliceSmith');
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['empty', ''],
    ['a space', 'alice smith'],
    ['a leading space', ' alice'],
    ['a trailing newline', 'alice\n'],
    ['an @', 'alice@example'],
    ['a slash', 'alice/bob'],
    ['an accented letter', 'émile'],
    ['non-Latin letters', 'علیرضا'],
    ['an emoji', 'alice😀'],
  ])('refuses a username with %s', (_label, username) => {
    expect(() => checkUsername(username)).toThrow(BadUserInputError);
  });
});

describe('usernameKey', () => {
  it('lower-cases so usernames are unique without regard to case', () => {
    expect(usernameKey('Alice.Smith')).toBe('alice.smith');
    expect(usernameKey('ALICE')).toBe(usernameKey('alice'));
    expect(usernameKey('AlIcE')).toBe(usernameKey('aLiCe'));
  });

  it('keeps digits and punctuation as they are', () => {
    expect(usernameKey('Bob_2.0-X')).toBe('bob_2.0-x');
  });
});

describe('checkPassword', () => {
  it('allows 10 to 128 characters', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(10);
    expect(PASSWORD_MAX_LENGTH).toBe(128);
    expect(checkPassword('a'.repeat(10))).toBe('a'.repeat(10));
    expect(checkPassword('a'.repeat(128))).toBe('a'.repeat(128));
  });

  it.each([
    ['9 characters', 'a'.repeat(9)],
    ['129 characters', 'a'.repeat(129)],
    ['nothing', ''],
  ])('refuses a password of %s', (_label, password) => {
    expect(() => checkPassword(password)).toThrow(BadUserInputError);
  });

  it('counts an emoji as one character, not two UTF-16 units', () => {
    // 9 emoji are 18 UTF-16 units but only 9 characters: too short.
    expect(() => checkPassword('😀'.repeat(9))).toThrow(BadUserInputError);
    expect(checkPassword('😀'.repeat(10))).toBe('😀'.repeat(10));
    // 128 emoji are 256 UTF-16 units but 128 characters: allowed.
    expect(checkPassword('😀'.repeat(128))).toBe('😀'.repeat(128));
    expect(() => checkPassword('😀'.repeat(129))).toThrow(BadUserInputError);
  });

  it('returns the password unchanged, spaces included', () => {
    expect(checkPassword('  correct horse  ')).toBe('  correct horse  ');
  });
});
