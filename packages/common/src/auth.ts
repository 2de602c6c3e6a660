// Who is calling: bearer-token extraction and JWT verification with jose. The gateway and
// every subgraph verify the same way (algorithm allow-list, issuer, audience, expiry and
// a key id required), so a subgraph called past the gateway trusts nothing it did not check.

import {
  createLocalJWKSet,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { JwtRules } from './config.ts';
import { ServiceUnavailableError, UnauthenticatedError } from './errors.ts';
import type { Logger } from './logger.ts';

export type Role = 'user' | 'admin';

export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly roles: readonly Role[];
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /** Whether tokens can be checked now: false while the signing keys were never fetched (see RemoteKeySet.ready). */
  ready?(): Promise<boolean>;
}

type KeySource = (header: JWSHeaderParameters, input: FlattenedJWSInput) => ReturnType<ReturnType<typeof createLocalJWKSet>>;

/** A signing-key set fetched from a JWKS URL, kept as it was last fetched when the URL cannot be reached. */
export interface RemoteKeySet extends KeySource {
  /** Fetches the key set now (see fetchSigningKeysAtStart). */
  refresh(): Promise<void>;
  /**
   * True when keys are held. When none ever were, fetches them now and answers whether that
   * worked: a process that cannot check a token is not ready for its callers.
   */
  ready(): Promise<boolean>;
  /** True when keys are held, with no fetch. */
  held(): boolean;
}

const SIGNING_KEYS_UNAVAILABLE = 'The signing keys could not be fetched just now, so the token could not be checked; try again shortly.';

/**
 * The keys that sign tokens, from the accounts service's JWKS. jose's remote set forgets its
 * keys when a refetch fails, so a valid token looked UNAUTHENTICATED while accounts was down
 * or slow, and a client threw a good token away. This one keeps the last good set: it is
 * refreshed in the background once older than `cacheMaxAgeMs`, refetched at once for an
 * unknown key id (a rotation) at most once per `cooldownMs`, and when keys are needed but
 * cannot be fetched the answer is SERVICE_UNAVAILABLE, never UNAUTHENTICATED.
 */
export function remoteKeySet(jwksUrl: string, options: { cooldownMs?: number; cacheMaxAgeMs?: number; timeoutMs?: number } = {}): RemoteKeySet {
  const cooldownMs = options.cooldownMs ?? 30_000;
  const cacheMaxAgeMs = options.cacheMaxAgeMs ?? 10 * 60_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  let keys: ReturnType<typeof createLocalJWKSet> | null = null;
  let fetchedAt = 0;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | null = null;

  const load = (): Promise<void> => {
    loading ??= (async () => {
      lastAttempt = Date.now();
      try {
        const response = await fetch(jwksUrl, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
        if (!response.ok) throw new Error(`the JWKS answered ${response.status}`);
        const jwks = (await response.json()) as JSONWebKeySet;
        if (!Array.isArray(jwks?.keys)) throw new Error('the JWKS has no keys array');
        keys = createLocalJWKSet(jwks);
        fetchedAt = Date.now();
      } finally {
        loading = null;
      }
    })();
    return loading;
  };
  const loadOrUnavailable = () =>
    load().catch(() => {
      throw new ServiceUnavailableError(SIGNING_KEYS_UNAVAILABLE);
    });

  const source = (async (header: JWSHeaderParameters, input: FlattenedJWSInput) => {
    if (!keys) {
      // Nothing fetched yet; after a failed try, wait a second before the next one.
      if (Date.now() - lastAttempt < 1000 && !loading) throw new ServiceUnavailableError(SIGNING_KEYS_UNAVAILABLE);
      await loadOrUnavailable();
    } else if (Date.now() - fetchedAt > cacheMaxAgeMs && Date.now() - lastAttempt > cooldownMs) {
      void load().catch(() => {});
    }
    const current = keys as unknown as ReturnType<typeof createLocalJWKSet>;
    try {
      return await current(header, input);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || Date.now() - lastAttempt < cooldownMs) throw error;
      // An unknown key id: perhaps the keys were rotated. Look once more.
      await loadOrUnavailable();
      return (keys as unknown as ReturnType<typeof createLocalJWKSet>)(header, input);
    }
  }) as RemoteKeySet;
  source.refresh = load;
  source.held = () => keys !== null;
  source.ready = () =>
    keys
      ? Promise.resolve(true)
      : load().then(
          () => true,
          () => false,
        );
  return source;
}

/**
 * Fetches the keys now and, while that fails, again after 0.1 s, 0.2 s, 0.4 s… (at most every
 * `maxDelayMs`) until one fetch has worked. Every process of the stack starts at once, so the
 * accounts service is often not listening yet when the others first look; a process that
 * looked again only on a request refused the requests of the next second
 * (SERVICE_UNAVAILABLE), the stack ready or not. The failures of the first `quietMs` are
 * expected and logged at debug, a failure past them once at warn, and keys that came after a
 * failure at info. Returns what stops the retries (a service's close); its timers never keep
 * a process alive.
 */
export function fetchSigningKeysAtStart(
  keys: RemoteKeySet,
  logger: Logger,
  options: { firstDelayMs?: number; maxDelayMs?: number; quietMs?: number } = {},
): () => void {
  const firstDelayMs = options.firstDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 2_000;
  const quietMs = options.quietMs ?? 10_000;
  const startedAt = Date.now();
  let failures = 0;
  let warned = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = (): void => {
    if (stopped || keys.held()) return;
    keys.refresh().then(
      () => {
        if (failures > 0) logger.info({ failures }, 'signing keys fetched');
      },
      (error: unknown) => {
        if (stopped || keys.held()) return;
        failures += 1;
        const waitedMs = Date.now() - startedAt;
        if (waitedMs >= quietMs && !warned) {
          warned = true;
          logger.warn({ err: error, failures, waitedMs }, 'signing keys still not fetched; tokens cannot be checked until they are; retrying');
        } else {
          logger.debug({ err: error, failures }, 'signing keys not fetched yet; retrying');
        }
        timer = setTimeout(attempt, Math.min(firstDelayMs * 2 ** (failures - 1), maxDelayMs));
        timer.unref();
      },
    );
  };
  attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * A verifier over the JWKS at `jwksUrl`, whose keys are fetched from the start on
 * (fetchSigningKeysAtStart); `stop` ends those retries, for a service's close or a failed start.
 */
export function remoteTokenVerifier(jwksUrl: string, rules: JwtRules, logger: Logger): { readonly verifier: TokenVerifier; stop(): void } {
  const keys = remoteKeySet(jwksUrl);
  const stop = fetchSigningKeysAtStart(keys, logger);
  return { verifier: createTokenVerifier(keys, rules), stop };
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

/** How many verified tokens a process remembers (see createTokenVerifier). */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * Verifies a token's signature and claims; a token that passed is remembered (bounded, least
 * recently verified dropped first) until it expires or passes the maximum token age, so a
 * client's next requests cost a map lookup instead of a signature check. The key is the whole
 * token, so a token changed in any byte is verified afresh; a refused token is never kept.
 * Tokens cannot be revoked before they expire (there is no revocation list), so remembering
 * one changes nothing a client could do with it.
 */
export function createTokenVerifier(keys: KeySource, rules: JwtRules, options: { cacheSize?: number; now?: () => number } = {}): TokenVerifier {
  const cacheSize = options.cacheSize ?? VERIFIED_TOKEN_CACHE_SIZE;
  // Read at each call (not `Date.now` kept once), so a clock replaced later, as tests do, is the one used.
  const now = options.now ?? (() => Date.now());
  const verified = new Map<string, { principal: Principal; validUntilMs: number }>();
  const ready = (keys as Partial<RemoteKeySet>).ready;
  // A key id is required: without one, a key set of one key would accept any token it verifies.
  const keyWithId = (header: JWSHeaderParameters, input: FlattenedJWSInput) => {
    if (typeof header.kid !== 'string' || header.kid === '') throw new UnauthenticatedError('The token names no signing key (kid).');
    return keys(header, input);
  };
  return {
    ...(ready ? { ready } : {}),
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        verified.delete(token);
        if (now() < known.validUntilMs) {
          verified.set(token, known);
          return known.principal;
        }
      }
      try {
        const { payload } = await jwtVerify(token, keyWithId, {
          algorithms: [...rules.algorithms],
          issuer: rules.issuer,
          audience: rules.audience,
          clockTolerance: rules.clockToleranceSeconds,
          maxTokenAge: rules.maxTokenAgeSeconds,
          requiredClaims: ['exp', 'iat', 'sub'],
          currentDate: new Date(now()),
        });
        const principal = principalFrom(payload);
        // Kept while jose would still accept it: before exp and before iat + the maximum age
        // (the clock tolerance is left out, so a remembered token lapses no later than a checked one).
        const validUntilMs = Math.min(Number(payload.exp) * 1000, (Number(payload.iat) + rules.maxTokenAgeSeconds) * 1000);
        if (cacheSize > 0 && Number.isFinite(validUntilMs)) {
          if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string);
          verified.set(token, { principal, validUntilMs });
        }
        return principal;
      } catch (error) {
        // The keys could not be fetched: the token may well be valid; the client must keep it.
        if (error instanceof ServiceUnavailableError) throw error;
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
