// Who is calling: bearer-token extraction and JWT verification with jose. The gateway and
// every subgraph verify the same way (algorithm allow-list, issuer, audience, expiry and
// a key id required), so a subgraph called past the gateway trusts nothing it did not check.

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { JwtRules } from './config.ts';
import { UnauthenticatedError } from './errors.ts';

export type Role = 'user' | 'admin';

export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly roles: readonly Role[];
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

type KeySource = ReturnType<typeof createRemoteJWKSet> | ReturnType<typeof createLocalJWKSet>;

export function remoteKeySet(jwksUrl: string, options: { cooldownMs?: number; cacheMaxAgeMs?: number; timeoutMs?: number } = {}): KeySource {
  return createRemoteJWKSet(new URL(jwksUrl), {
    cooldownDuration: options.cooldownMs ?? 30_000,
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
}

export function localKeySet(jwks: JSONWebKeySet): KeySource {
  return createLocalJWKSet(jwks);
}

function principalFrom(payload: JWTPayload): Principal {
  const { sub } = payload;
  const username = payload.preferred_username;
  const roles = payload.roles;
  if (typeof sub !== 'string' || sub === '') throw new UnauthenticatedError('The token names no subject.');
  const validRoles = Array.isArray(roles) ? roles.filter((role): role is Role => role === 'user' || role === 'admin') : [];
  return { userId: sub, username: typeof username === 'string' ? username : '', roles: validRoles };
}

export function createTokenVerifier(keys: KeySource, rules: JwtRules): TokenVerifier {
  return {
    async verify(token) {
      try {
        // A key id is required: without one, a key set of one key would accept any token it verifies.
        const keyWithId = (header: JWSHeaderParameters, input: FlattenedJWSInput) => {
          if (typeof header.kid !== 'string' || header.kid === '') throw new UnauthenticatedError('The token names no signing key (kid).');
          return keys(header, input);
        };
        const { payload } = await jwtVerify(token, keyWithId, {
          algorithms: [...rules.algorithms],
          issuer: rules.issuer,
          audience: rules.audience,
          clockTolerance: rules.clockToleranceSeconds,
          maxTokenAge: rules.maxTokenAgeSeconds,
          requiredClaims: ['exp', 'iat', 'sub'],
        });
        return principalFrom(payload);
      } catch (error) {
        throw new UnauthenticatedError(describeTokenError(error));
      }
    },
  };
}

function describeTokenError(error: unknown): string {
  if (error instanceof UnauthenticatedError) return error.message;
  if (error instanceof joseErrors.JWTExpired) return 'The token has expired; sign in again.';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The token is not valid for this API (${error.claim} claim).`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The token was not signed by a key this API trusts.';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is invalid.';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm this API does not accept.';
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JOSEError) return 'The token could not be verified.';
  return 'The token could not be verified.';
}

/**
 * The bearer token of a request, or null when there is none. A malformed Authorization
 * header is an authentication failure, never a silent fall-back to anonymous.
 */
export function bearerToken(authorization: string | undefined | null): string | null {
  if (authorization === undefined || authorization === null || authorization.trim() === '') return null;
  const match = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(authorization);
  if (!match?.[1]) throw new UnauthenticatedError('The Authorization header must be `Bearer <token>`.');
  return match[1];
}

/** The caller must be signed in. */
export function requireUser(principal: Principal | null): Principal {
  if (!principal) throw new UnauthenticatedError();
  return principal;
}

export function hasRole(principal: Principal | null, role: Role): boolean {
  return principal?.roles.includes(role) ?? false;
}
