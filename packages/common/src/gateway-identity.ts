// The caller the gateway verified, passed on to the subgraphs so that none checks the same
// token's signature again. A signature check (jose, ES256) costs 0.13–0.17 ms of CPU, the
// largest single cost of a refused activation in gift-cards; a token that comes once (a
// promotion's burst: each user sends one request) gains nothing from the verified-token cache.
//
// A subgraph believes the forwarded caller, and the client address the gateway saw, only next
// to the gateway's credential (GATEWAY_TOKEN, compared in constant time). A request without it,
// or with a wrong one, is treated as a caller straight from the network: its bearer token is
// verified as before (the gateway keeps forwarding it, so a subgraph without the credential, or
// one whose credential is being rotated, still serves), and when the subgraph holds a credential
// it does not believe the client-address header either.

import { randomBytes } from 'node:crypto';
import type { Principal, Role } from './auth.ts';
import { type CommonConfig, ConfigError, type Env, envOptional } from './config.ts';
import { loadOrCreateDevSecret } from './dev-secrets.ts';
import { UnauthenticatedError } from './errors.ts';
import { serviceTokenMatches } from './service-client.ts';

/** The gateway's credential on each call to a subgraph. */
export const GATEWAY_TOKEN_HEADER = 'x-giftpay-gateway-token';

/** The caller the gateway verified: base64url of `{"sub","name","roles"}`; absent for an anonymous request. */
export const PRINCIPAL_HEADER = 'x-giftpay-principal';

/** The development file of GATEWAY_TOKEN under DATA_DIR/secrets. */
export const GATEWAY_TOKEN_FILE = 'gateway-token';

/**
 * GATEWAY_TOKEN for the gateway and every subgraph: the value (at least 32 characters; from
 * GATEWAY_TOKEN_FILE too), or outside production a value generated once under
 * DATA_DIR/secrets so that a stack started by `pnpm start` shares it. Unset in production,
 * it is null: the gateway forwards the bearer token alone and each subgraph verifies it.
 */
export function gatewayTokenSetting(env: Env, common: Pick<CommonConfig, 'mode' | 'dataDir'>): string | null {
  const value = envOptional(env, 'GATEWAY_TOKEN');
  if (value !== undefined) {
    if (value.length < 32) throw new ConfigError('GATEWAY_TOKEN', 'must be at least 32 characters');
    return value;
  }
  if (common.mode === 'production') return null;
  return loadOrCreateDevSecret(common.dataDir, GATEWAY_TOKEN_FILE, () => randomBytes(32).toString('base64url'));
}

/**
 * GATEWAY_TOKEN_PREVIOUS, for a subgraph during a rotation of GATEWAY_TOKEN: a credential it
 * still believes beside its own, so that a gateway not yet given the new value is believed
 * too (otherwise its callers' tokens are verified again and, worse, every client is counted
 * under the gateway's own address by the failed-attempt limits). At least 32 characters, and
 * only beside a GATEWAY_TOKEN.
 */
export function previousGatewayTokenSetting(env: Env, current: string | null): string | null {
  const value = envOptional(env, 'GATEWAY_TOKEN_PREVIOUS');
  if (value === undefined) return null;
  if (value.length < 32) throw new ConfigError('GATEWAY_TOKEN_PREVIOUS', 'must be at least 32 characters');
  if (current === null) throw new ConfigError('GATEWAY_TOKEN_PREVIOUS', 'is only read beside a GATEWAY_TOKEN: set the new credential there');
  return value;
}

export function encodePrincipal(principal: Principal): string {
  return Buffer.from(JSON.stringify({ sub: principal.userId, name: principal.username, roles: principal.roles })).toString('base64url');
}

const ROLES: ReadonlySet<string> = new Set<Role>(['user', 'admin']);

/** The forwarded caller, or null when the header is absent; a malformed header is UNAUTHENTICATED. */
export function decodePrincipal(header: string | string[] | undefined): Principal | null {
  if (header === undefined) return null;
  let parsed: unknown;
  try {
    if (typeof header !== 'string') throw new Error('repeated header');
    parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    throw new UnauthenticatedError('The caller forwarded by the gateway could not be read.');
  }
  const { sub, name, roles } = (parsed ?? {}) as { sub?: unknown; name?: unknown; roles?: unknown };
  if (typeof sub !== 'string' || sub === '' || typeof name !== 'string' || !Array.isArray(roles)) {
    throw new UnauthenticatedError('The caller forwarded by the gateway could not be read.');
  }
  return { userId: sub, username: name, roles: roles.filter((role): role is Role => typeof role === 'string' && ROLES.has(role)) };
}

/**
 * Whether a request carries the gateway's credential, or during a rotation the previous one;
 * always false for a subgraph that holds none.
 */
export function cameThroughGateway(header: string | string[] | undefined, gatewayToken: string | null, previous: string | null = null): boolean {
  if (gatewayToken === null) return false;
  return serviceTokenMatches(header, gatewayToken) || (previous !== null && serviceTokenMatches(header, previous));
}
