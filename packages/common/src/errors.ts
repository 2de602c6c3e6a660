// Errors meant for clients. Each domain failure is a class with a stable `code` from the
// contract; `formatError` maps them to `extensions.code` in one place and masks
// everything else as INTERNAL_SERVER_ERROR with the request id.

import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { isDatabaseUnavailable, isTransientDatabaseFailure } from './database-errors.ts';
import type { Logger } from './logger.ts';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'INVALID_CREDENTIALS'
  | 'USERNAME_TAKEN'
  | 'GIFT_CARD_NOT_FOUND'
  | 'GIFT_CARD_ALREADY_REDEEMED'
  | 'GIFT_CARD_USED_UP'
  | 'GIFT_CARD_EXPIRED'
  | 'GIFT_CARD_DISABLED'
  | 'CURRENCY_MISMATCH'
  | 'INSUFFICIENT_FUNDS'
  | 'RECIPIENT_NOT_FOUND'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'RATE_LIMITED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'SERVICE_UNAVAILABLE';

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra fields for `extensions`, e.g. `retryAfterSeconds`. */
  readonly details: Readonly<Record<string, unknown>> = {};

  constructor(message: string) {
    super(message);
    // A domain error is an expected answer, not a fault: nobody reads its stack, and
    // formatting one (through source maps) costs more than the rest of a refused request.
    Object.defineProperty(this, 'stack', { value: `${new.target.name}: ${message}`, writable: true, configurable: true });
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'Sign in to do this: send a valid token as `Authorization: Bearer <token>`.') {
    super(message);
  }
}
export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor(message = 'You do not have the role this needs.') {
    super(message);
  }
}
export class BadUserInputError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
}
export class InvalidCredentialsError extends DomainError {
  readonly code = 'INVALID_CREDENTIALS';
  constructor() {
    super('The username or password is wrong.');
  }
}
export class UsernameTakenError extends DomainError {
  readonly code = 'USERNAME_TAKEN';
  constructor(username: string) {
    super(`The username "${username}" is taken; choose another.`);
  }
}
export class GiftCardNotFoundError extends DomainError {
  readonly code = 'GIFT_CARD_NOT_FOUND';
  constructor() {
    super('No gift card has this code. Check the code and try again.');
  }
}
export class GiftCardAlreadyRedeemedError extends DomainError {
  readonly code = 'GIFT_CARD_ALREADY_REDEEMED';
  constructor() {
    super('You have already redeemed this gift card.');
  }
}
export class GiftCardUsedUpError extends DomainError {
  readonly code = 'GIFT_CARD_USED_UP';
  constructor() {
    super('This gift card has no redemptions left.');
  }
}
export class GiftCardExpiredError extends DomainError {
  readonly code = 'GIFT_CARD_EXPIRED';
  constructor() {
    super('This gift card has expired.');
  }
}
export class GiftCardDisabledError extends DomainError {
  readonly code = 'GIFT_CARD_DISABLED';
  constructor() {
    super('This gift card has been disabled.');
  }
}
export class CurrencyMismatchError extends DomainError {
  readonly code = 'CURRENCY_MISMATCH';
  constructor(walletCurrency: string, given: string) {
    super(`The wallet holds ${walletCurrency}; ${given} cannot be used with it.`);
  }
}
export class InsufficientFundsError extends DomainError {
  readonly code = 'INSUFFICIENT_FUNDS';
  constructor() {
    super('The wallet balance is too low for this amount.');
  }
}
export class RecipientNotFoundError extends DomainError {
  readonly code = 'RECIPIENT_NOT_FOUND';
  constructor(username: string) {
    super(`No user is called "${username}".`);
  }
}
export class IdempotencyKeyReusedError extends DomainError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor() {
    super('This idempotency key was already used with a different input; use a new key for a new request.');
  }
}
export class RateLimitedError extends DomainError {
  readonly code = 'RATE_LIMITED';
  override readonly details: Readonly<Record<string, unknown>>;
  constructor(retryAfterSeconds: number) {
    super(`Too many failed attempts; try again in ${retryAfterSeconds} seconds.`);
    this.details = { retryAfterSeconds };
  }
}

/** A service or the database this field needs is down or did not answer in time; the same request may be sent again. */
export class ServiceUnavailableError extends DomainError {
  readonly code = 'SERVICE_UNAVAILABLE';
  override readonly details: Readonly<Record<string, unknown>>;
  /** `service` names the service that did not answer, as the gateway's own SERVICE_UNAVAILABLE does. */
  constructor(message = 'A service this needs is not available just now; nothing was done twice. Try again shortly.', retryAfterSeconds = 1, service?: string) {
    super(message);
    this.details = { ...(service ? { service } : {}), retryAfterSeconds };
  }
}

/** Every code of the contract: what a client may see, besides INTERNAL_SERVER_ERROR. */
export const CONTRACT_ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'INVALID_CREDENTIALS',
  'USERNAME_TAKEN',
  'GIFT_CARD_NOT_FOUND',
  'GIFT_CARD_ALREADY_REDEEMED',
  'GIFT_CARD_USED_UP',
  'GIFT_CARD_EXPIRED',
  'GIFT_CARD_DISABLED',
  'CURRENCY_MISMATCH',
  'INSUFFICIENT_FUNDS',
  'RECIPIENT_NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'RATE_LIMITED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'SERVICE_UNAVAILABLE',
]);

/** Request errors Apollo Server and graphql-js raise themselves; safe to show as they are. */
const REQUEST_ERROR_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'INVALID_GRAPHQL',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * Apollo Server's own codes for an operation that cannot run, told to clients in the
 * contract's words: a syntax error or an operation name that is not in the document is an
 * operation not valid against the schema. An automatic persisted query the gateway does not
 * hold (or will not take) is a request it does not accept, BAD_REQUEST; its message stays
 * `PersistedQueryNotFound` (`PersistedQueryNotSupported`), which is what APQ clients look for
 * (Apollo Client by message or code, urql by message only) before sending the query itself.
 */
const CONTRACT_CODE_OF_REQUEST_ERROR: Readonly<Record<string, string>> = {
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  OPERATION_RESOLUTION_FAILURE: 'GRAPHQL_VALIDATION_FAILED',
  // @apollo/gateway's own word for an operation it cannot plan (an unknown operation name).
  INVALID_GRAPHQL: 'GRAPHQL_VALIDATION_FAILED',
  PERSISTED_QUERY_NOT_FOUND: 'BAD_REQUEST',
  PERSISTED_QUERY_NOT_SUPPORTED: 'BAD_REQUEST',
};

/**
 * Extension fields a client may see; anything else a subgraph or library adds is dropped.
 * `service` names the service a SERVICE_UNAVAILABLE is about, as the gateway's own does.
 */
const PUBLIC_EXTENSIONS = ['retryAfterSeconds', 'requestId', 'service'];

export function domainErrorToGraphQL(error: DomainError, path?: readonly (string | number)[]): GraphQLError {
  return new GraphQLError(error.message, { path, extensions: { code: error.code, ...error.details } });
}

/**
 * What a client may be told about an error, or null when it must be masked:
 * - a DomainError thrown in this service: its code and details;
 * - a GraphQL request error raised by graphql-js or Apollo Server (parse, validation, variables);
 * - at the gateway, a subgraph's error carrying a contract code (subgraphs mask everything else).
 */
export function publicExtensionsOf(error: unknown, trustDownstream: boolean): Record<string, unknown> | null {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof DomainError) return { code: original.code, ...original.details };
  if (isTransientDatabaseFailure(original)) return { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS };
  if (!(error instanceof GraphQLError)) return null;
  const code = error.extensions?.code;
  if (typeof code !== 'string') return null;
  // Apollo Server's own request errors may wrap a plain Error (the gateway's "Unknown operation named …").
  const raisedByGraphQL = error.originalError === undefined || error.originalError instanceof GraphQLError || error.name === 'OperationResolutionError';
  const fromSubgraph = trustDownstream && !(error.originalError instanceof Error);
  if ((raisedByGraphQL && REQUEST_ERROR_CODES.has(code)) || ((raisedByGraphQL || fromSubgraph) && CONTRACT_ERROR_CODES.has(code))) {
    const extensions: Record<string, unknown> = { code: CONTRACT_CODE_OF_REQUEST_ERROR[code] ?? code };
    for (const name of PUBLIC_EXTENSIONS) if (error.extensions[name] !== undefined) extensions[name] = error.extensions[name];
    return extensions;
  }
  return null;
}

export interface FormatErrorOptions {
  /** The gateway trusts contract codes that come from subgraphs. */
  readonly trustDownstream?: boolean;
}

/** A subgraph that did not answer: the gateway says which part of the answer is missing, and nothing more. */
export class SubgraphUnavailableError extends Error {
  override readonly name = 'SubgraphUnavailableError';
  readonly subgraph: string;
  readonly reason: 'timeout' | 'unreachable' | 'unavailable';
  /** From the service's own Retry-After, when it sent one. */
  readonly retryAfterSeconds: number | undefined;
  constructor(subgraph: string, reason: 'timeout' | 'unreachable' | 'unavailable', retryAfterSeconds?: number) {
    const what = { timeout: 'did not answer in time', unreachable: 'is not reachable', unavailable: 'is not available just now' }[reason];
    super(`The ${subgraph} service ${what}; this part of the answer is missing. Try again shortly.`);
    this.subgraph = subgraph;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function unavailableSubgraph(error: unknown): SubgraphUnavailableError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth += 1) {
    if (current instanceof SubgraphUnavailableError) return current;
    current = (current as { originalError?: unknown; cause?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * Apollo Server's `formatError`: expected errors keep their code and message; anything else
 * becomes INTERNAL_SERVER_ERROR with no detail beyond a request id (logged by errorLoggingPlugin).
 */
export function createErrorFormatter(options: FormatErrorOptions = {}) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const location = {
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
    };
    const extensions = publicExtensionsOf(error, options.trustDownstream ?? false);
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    // The driver's own message names hosts and ports: say what it means instead.
    if (extensions && isTransientDatabaseFailure(original)) {
      return { message: isDatabaseUnavailable(original) ? DATABASE_UNAVAILABLE_MESSAGE : DATABASE_BUSY_MESSAGE, ...location, extensions };
    }
    if (extensions) return { message: formatted.message, ...location, extensions };
    const requestId = requestIdOfError(error);
    const unavailable = unavailableSubgraph(error);
    if (unavailable) {
      return {
        message: unavailable.message,
        ...location,
        extensions: {
          code: 'SERVICE_UNAVAILABLE',
          service: unavailable.subgraph,
          ...(unavailable.retryAfterSeconds !== undefined ? { retryAfterSeconds: unavailable.retryAfterSeconds } : {}),
          ...(requestId ? { requestId } : {}),
        },
      };
    }
    return {
      message: requestId ? `Something went wrong on our side (request ${requestId}).` : 'Something went wrong on our side.',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR', ...(requestId ? { requestId } : {}) },
    };
  };
}

const DATABASE_RETRY_AFTER_SECONDS = 1;
const DATABASE_UNAVAILABLE_MESSAGE = 'The service could not reach its database just now; nothing was done twice. Try again shortly.';
const DATABASE_BUSY_MESSAGE = 'The service’s database was too busy to finish this just now; nothing was done twice. Try again shortly.';

const REQUEST_ID = Symbol('giftpay.requestId');

export function requestIdOfError(error: unknown): string | undefined {
  return (error as { [REQUEST_ID]?: string } | null)?.[REQUEST_ID];
}

/**
 * Logs every unexpected error once, with the request id, and tags the error with that id
 * so `formatError` can show it to the client (who can quote it to support).
 */
export function errorLoggingPlugin<TContext extends BaseContext & { requestId?: string }>(
  logger: Logger,
  options: FormatErrorOptions = {},
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ contextValue, errors, operationName }) {
          for (const error of errors) {
            // A refusal of the domain's own (most of a promotion's answers) is no database failure: not looked into.
            if (!(error.originalError instanceof DomainError) && isTransientDatabaseFailure(error.originalError)) {
              const what = isDatabaseUnavailable(error.originalError) ? 'database unavailable' : 'deadlock or serialization failure';
              logger.warn({ err: error.originalError, path: error.path, requestId: contextValue.requestId, operationName }, what);
              continue;
            }
            if (publicExtensionsOf(error, options.trustDownstream ?? false)) continue;
            Object.assign(error, { [REQUEST_ID]: contextValue.requestId });
            logger.error({ err: error.originalError ?? error, path: error.path, requestId: contextValue.requestId, operationName }, 'unexpected error');
          }
        },
      };
    },
  };
}
