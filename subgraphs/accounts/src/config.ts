// The accounts subgraph's configuration, parsed once from the environment.

import { createPrivateKey, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  type CommonConfig,
  ConfigError,
  type Env,
  envInt,
  envOptional,
  envRequired,
  envUrl,
  gatewayTokenSetting,
  loadCommonConfig,
  loadOrCreateDevSecret,
  previousGatewayTokenSetting,
  withSecretFiles,
} from '@giftpay/common';
import type { AttemptLimit } from '@giftpay/common/attempt-limiter';
import { checkUsername, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './domain/credentials.ts';
import { generateSigningKeyPem } from './token-signer.ts';

/** The account created for development when no admin is configured. */
export const DEVELOPMENT_ADMIN_USERNAME = 'admin';
/** The file under DATA_DIR/secrets that keeps the development admin's generated password. */
export const DEVELOPMENT_ADMIN_PASSWORD_FILE = 'admin-password';

export interface AccountsConfig extends CommonConfig {
  readonly port: number;
  readonly databaseUrl: string;
  readonly dbPoolMax: number;
  readonly jwtPrivateKeyPem: string;
  readonly tokenTtlSeconds: number;
  readonly passwordHash: { readonly memoryKiB: number; readonly iterations: number };
  readonly internalApiToken: string;
  /** GATEWAY_TOKEN: requests carrying it come from the gateway, with the caller it verified (gateway-identity.ts). */
  readonly gatewayToken: string | null;
  /** GATEWAY_TOKEN_PREVIOUS: during a rotation, the credential still believed beside GATEWAY_TOKEN. */
  readonly previousGatewayToken: string | null;
  /** Verify callers' tokens against this key set (another OIDC provider) instead of accounts' own key. */
  readonly jwksUrl: string | null;
  readonly bootstrapAdmin: { readonly username: string; readonly password: string } | null;
  /**
   * Outside production, with no BOOTSTRAP_ADMIN_*: when no admin exists yet, one named `admin`
   * is created with a password generated into this file (DATA_DIR/secrets/admin-password).
   */
  readonly developmentAdmin: { readonly username: string; readonly passwordFile: string } | null;
  /** Wrong passwords allowed per window before RATE_LIMITED. */
  readonly failedLogins: { readonly perUsername: AttemptLimit; readonly perAddress: AttemptLimit };
}

export function loadConfig(environment: Env): AccountsConfig {
  const env = withSecretFiles(environment, ['DATABASE_URL', 'JWT_PRIVATE_KEY', 'INTERNAL_API_TOKEN', 'BOOTSTRAP_ADMIN_PASSWORD']);
  const common = loadCommonConfig(env);
  const production = common.mode === 'production';
  const secret = (name: string, file: string, create: () => string): string => {
    const value = envOptional(env, name);
    if (value) return value.replace(/\\n/g, '\n');
    if (production) throw new ConfigError(name, 'is required when NODE_ENV=production');
    return loadOrCreateDevSecret(common.dataDir, file, create);
  };
  const adminUsername = envOptional(env, 'BOOTSTRAP_ADMIN_USERNAME');
  const adminPassword = envOptional(env, 'BOOTSTRAP_ADMIN_PASSWORD');
  if ((adminUsername === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError(
      adminUsername ? 'BOOTSTRAP_ADMIN_PASSWORD' : 'BOOTSTRAP_ADMIN_USERNAME',
      `must be set together with ${adminUsername ? 'BOOTSTRAP_ADMIN_USERNAME' : 'BOOTSTRAP_ADMIN_PASSWORD'}`,
    );
  }
  // The account rules, checked here so that a wrong value is a configuration error naming the variable.
  if (adminUsername !== undefined) {
    try {
      checkUsername(adminUsername);
    } catch {
      throw new ConfigError('BOOTSTRAP_ADMIN_USERNAME', `must be 3 to 32 letters, digits, "_", "." or "-", got "${adminUsername}"`);
    }
  }
  if (adminPassword !== undefined) {
    const length = [...adminPassword].length;
    if (length < PASSWORD_MIN_LENGTH) throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', `must be at least ${PASSWORD_MIN_LENGTH} characters, got ${length}`);
    if (length > PASSWORD_MAX_LENGTH) throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', `must be at most ${PASSWORD_MAX_LENGTH} characters, got ${length}`);
  }
  const internalApiToken = secret('INTERNAL_API_TOKEN', 'internal-api-token', () => randomBytes(32).toString('base64url'));
  if (internalApiToken.length < 32) throw new ConfigError('INTERNAL_API_TOKEN', 'must be at least 32 characters');
  const gatewayToken = gatewayTokenSetting(env, common);
  return Object.freeze({
    ...common,
    port: envInt(env, 'ACCOUNTS_PORT', 4001, { min: 0, max: 65535 }),
    databaseUrl: envRequired(env, 'DATABASE_URL'),
    dbPoolMax: envInt(env, 'DB_POOL_MAX', 10, { min: 1, max: 200 }),
    jwtPrivateKeyPem: checkSigningKey(secret('JWT_PRIVATE_KEY', 'jwt-signing-key.pem', () => generateSigningKeyPem('EdDSA'))),
    tokenTtlSeconds: envInt(env, 'JWT_TTL_SECONDS', 3600, { min: 60, max: 7 * 24 * 3600 }),
    passwordHash: Object.freeze({
      memoryKiB: envInt(env, 'PASSWORD_HASH_MEMORY_KIB', 19_456, { min: 1024, max: 1_048_576 }),
      iterations: envInt(env, 'PASSWORD_HASH_ITERATIONS', 2, { min: 1, max: 10 }),
    }),
    internalApiToken,
    gatewayToken,
    previousGatewayToken: previousGatewayTokenSetting(env, gatewayToken),
    jwksUrl: envOptional(env, 'JWKS_URL') ? envUrl(env, 'JWKS_URL', '') : null,
    failedLogins: Object.freeze({
      perUsername: { max: envInt(env, 'FAILED_LOGINS_PER_USERNAME', 10, { min: 1, max: 100_000 }), windowSeconds: common.rateLimitWindowSeconds },
      perAddress: { max: envInt(env, 'FAILED_LOGINS_PER_ADDRESS', 50, { min: 1, max: 1_000_000 }), windowSeconds: common.rateLimitWindowSeconds },
    }),
    bootstrapAdmin: adminUsername && adminPassword ? Object.freeze({ username: adminUsername, password: adminPassword }) : null,
    developmentAdmin:
      adminUsername === undefined && !production
        ? Object.freeze({ username: DEVELOPMENT_ADMIN_USERNAME, passwordFile: resolve(join(common.dataDir, 'secrets', DEVELOPMENT_ADMIN_PASSWORD_FILE)) })
        : null,
  });
}

/** The token signer takes an Ed25519 or P-256 key; anything else is refused here, naming the variable. */
function checkSigningKey(pem: string): string {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType === 'ed25519' || (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')) return pem;
  } catch {
    // not a private key at all: the same answer
  }
  throw new ConfigError('JWT_PRIVATE_KEY', 'must be an Ed25519 or P-256 private key in PKCS#8 PEM');
}
