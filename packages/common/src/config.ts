// Reading configuration from the environment: every service parses its variables once,
// at start-up, through these helpers, so a wrong value stops the service with one clear
// message that names the variable.

import { type DatabaseTimeouts, DEFAULT_DATABASE_TIMEOUTS } from './database-errors.ts';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.variable = variable;
  }
}

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function envString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function envOptional(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function envRequired(env: Env, name: string): string {
  const value = raw(env, name);
  if (value === undefined) throw new ConfigError(name, 'is required');
  return value;
}

export function envInt(env: Env, name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be an integer, got "${value}"`);
  const parsed = Number(value);
  if (range.min !== undefined && parsed < range.min) throw new ConfigError(name, `must be at least ${range.min}, got ${parsed}`);
  if (range.max !== undefined && parsed > range.max) throw new ConfigError(name, `must be at most ${range.max}, got ${parsed}`);
  return parsed;
}

export function envBoolean(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(name, `must be true or false, got "${value}"`);
}

export function envUrl(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new Error('unsupported protocol');
    }
    return value.replace(/\/+$/, '');
  } catch {
    // The value is not repeated: a database URL may hold a password.
    throw new ConfigError(name, 'must be an http(s) or postgres URL');
  }
}

export function envList(env: Env, name: string, fallback: readonly string[]): string[] {
  const value = raw(env, name);
  if (value === undefined) return [...fallback];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export type RuntimeMode = 'production' | 'development' | 'test';

export function envMode(env: Env): RuntimeMode {
  const value = raw(env, 'NODE_ENV') ?? 'development';
  if (value === 'production' || value === 'development' || value === 'test') return value;
  throw new ConfigError('NODE_ENV', `must be production, development or test, got "${value}"`);
}

/** Settings every service shares: where it listens, its database, logging and the token rules. */
export interface CommonConfig {
  readonly mode: RuntimeMode;
  /** Length of the window in which failed attempts (codes, passwords) are counted. */
  readonly rateLimitWindowSeconds: number;
  readonly host: string;
  readonly dataDir: string;
  readonly logLevel: string;
  readonly jwt: JwtRules;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  readonly metricsToken: string | null;
  /** OpenTelemetry collector base URL (OTLP/HTTP); traces are exported only when set. */
  readonly otlpEndpoint: string | null;
  /** Bounded waits on every pooled database connection. */
  readonly databaseTimeouts: DatabaseTimeouts;
  /** Bounded waits and connections at the HTTP edge. */
  readonly httpLimits: HttpLimits;
  /** SUBGRAPH_MAX_BODY_BYTES: the largest request body a subgraph reads (the gateway's calls, a batch of credits). */
  readonly subgraphMaxBodyBytes: number;
}

export interface JwtRules {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
  /** Tokens issued longer ago than this are refused, whatever their `exp` says. */
  readonly maxTokenAgeSeconds: number;
}

const ALLOWED_JWT_ALGORITHMS = new Set(['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256']);

export function loadCommonConfig(env: Env): CommonConfig {
  const algorithms = envList(env, 'JWT_ALGORITHMS', ['EdDSA', 'ES256']);
  if (algorithms.length === 0) throw new ConfigError('JWT_ALGORITHMS', 'must name at least one algorithm');
  for (const algorithm of algorithms) {
    if (!ALLOWED_JWT_ALGORITHMS.has(algorithm)) {
      throw new ConfigError('JWT_ALGORITHMS', `may only name asymmetric algorithms (${[...ALLOWED_JWT_ALGORITHMS].join(', ')}), got "${algorithm}"`);
    }
  }
  return {
    mode: envMode(env),
    rateLimitWindowSeconds: envInt(env, 'RATE_LIMIT_WINDOW_SECONDS', 900, { min: 1, max: 86_400 }),
    host: envString(env, 'HOST', '127.0.0.1'),
    dataDir: envString(env, 'DATA_DIR', '.data'),
    logLevel: envString(env, 'LOG_LEVEL', 'info'),
    metricsToken: envOptional(env, 'METRICS_TOKEN') ?? null,
    otlpEndpoint: envOptional(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ? envUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', '') : null,
    httpLimits: Object.freeze({
      headersTimeoutMs: envInt(env, 'HTTP_HEADERS_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.headersTimeoutMs, { min: 1000, max: 600_000 }),
      requestTimeoutMs: envInt(env, 'HTTP_REQUEST_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.requestTimeoutMs, { min: 1000, max: 600_000 }),
      keepAliveTimeoutMs: envInt(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs, { min: 100, max: 600_000 }),
      maxConnections: envInt(env, 'HTTP_MAX_CONNECTIONS', DEFAULT_HTTP_LIMITS.maxConnections, { min: 10, max: 1_000_000 }),
    }),
    // A batch of 50 credits is about 20 KB; the floor keeps room for it.
    subgraphMaxBodyBytes: envInt(env, 'SUBGRAPH_MAX_BODY_BYTES', 1_000_000, { min: 65_536, max: 50_000_000 }),
    databaseTimeouts: Object.freeze({
      statementMs: envInt(env, 'DB_STATEMENT_TIMEOUT_MS', DEFAULT_DATABASE_TIMEOUTS.statementMs, { min: 100, max: 600_000 }),
      lockMs: envInt(env, 'DB_LOCK_TIMEOUT_MS', DEFAULT_DATABASE_TIMEOUTS.lockMs, { min: 10, max: 600_000 }),
      idleInTransactionMs: envInt(env, 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', DEFAULT_DATABASE_TIMEOUTS.idleInTransactionMs, { min: 100, max: 600_000 }),
    }),
    jwt: {
      issuer: envString(env, 'JWT_ISSUER', 'giftpay-accounts'),
      audience: envString(env, 'JWT_AUDIENCE', 'giftpay-api'),
      algorithms,
      clockToleranceSeconds: envInt(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 5, { min: 0, max: 300 }),
      maxTokenAgeSeconds: envInt(env, 'JWT_MAX_TOKEN_AGE_SECONDS', 86_400, { min: 60, max: 30 * 86_400 }),
    },
  };
}
