// The rules for usernames and passwords, from the contract.

import { BadUserInputError } from '@giftpay/common';

const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 128;

export function checkUsername(username: string): string {
  if (!USERNAME_PATTERN.test(username)) {
    throw new BadUserInputError('A username is 3 to 32 characters of letters, digits, `_`, `.` and `-`.');
  }
  return username;
}

/** The form usernames are compared in: unique without regard to case. */
export function usernameKey(username: string): string {
  return username.toLowerCase();
}

export function checkPassword(password: string): string {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new BadUserInputError(`A password is ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`);
  }
  return password;
}
