// Who is calling: the bearer token of a request (a malformed header is an authentication
// failure, never anonymous) and the caller's roles.

import { describe, expect, it } from 'vitest';
import { bearerToken, hasRole, type Principal, requireUser } from '../src/auth.ts';
import { UnauthenticatedError } from '../src/errors.ts';

const user: Principal = { userId: 'u1', username: 'alice', roles: ['user'] };
const admin: Principal = { userId: 'u2', username: 'root', roles: ['user', 'admin'] };

describe('bearerToken', () => {
  it.each([undefined, null, '', '   '])('is null when there is no Authorization header (%j)', (header) => {
    expect(bearerToken(header)).toBeNull();
  });

  it('returns the token of `Bearer <token>`', () => {
    expect(bearerToken('Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl')).toBe('eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl');
  });

  it.each(['bearer abc', 'BEARER abc', 'BeArEr abc'])('reads the scheme without regard to case (%j)', (header) => {
    expect(bearerToken(header)).toBe('abc');
  });

  it('tolerates several spaces after the scheme and trailing whitespace', () => {
    expect(bearerToken('Bearer    abc  ')).toBe('abc');
  });

  it('accepts base64 padding and the token68 characters', () => {
    expect(bearerToken('Bearer a-b_c.d~e+f/g==')).toBe('a-b_c.d~e+f/g==');
  });

  it.each([
    'Basic dXNlcjpwYXNzd29yZA==',
    'Bearer',
    'Bearer ',
    'Bearerabc',
    'abc',
    'Token abc',
    'Bearer a b',
    'Bearer a,b',
    'Bearer <script>',
    'Bearer\tabc',
    '"Bearer abc"',
  ])('refuses the malformed header %j as unauthenticated', (header) => {
    expect(() => bearerToken(header)).toThrow(UnauthenticatedError);
  });
});

describe('hasRole and requireUser', () => {
  it('gives an anonymous caller no role', () => {
    expect(hasRole(null, 'user')).toBe(false);
    expect(hasRole(null, 'admin')).toBe(false);
  });

  it('gives a caller exactly the roles of their token', () => {
    expect(hasRole(user, 'user')).toBe(true);
    expect(hasRole(user, 'admin')).toBe(false);
    expect(hasRole(admin, 'admin')).toBe(true);
  });

  it('requireUser refuses an anonymous caller and returns a signed-in one', () => {
    expect(() => requireUser(null)).toThrow(UnauthenticatedError);
    expect(requireUser(user)).toBe(user);
  });
});
