// What clients are told about errors: domain codes and messages pass, request errors from
// graphql pass, contract codes from subgraphs pass at the gateway; everything else is
// masked as INTERNAL_SERVER_ERROR with nothing leaked.

import {
  buildSchema,
  GraphQLError,
  type GraphQLFormattedError,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  graphql,
  parse,
  validate,
} from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import {
  BadUserInputError,
  CONTRACT_ERROR_CODES,
  CurrencyMismatchError,
  createErrorFormatter,
  type DomainError,
  domainErrorToGraphQL,
  type ErrorCode,
  errorLoggingPlugin,
  ForbiddenError,
  GiftCardDisabledError,
  GiftCardExpiredError,
  GiftCardNotFoundError,
  GiftCardUsedUpError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  InvalidCredentialsError,
  publicExtensionsOf,
  RateLimitedError,
  RecipientNotFoundError,
  UnauthenticatedError,
  UsernameTakenError,
} from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';
import { DecimalScalar } from '../src/scalars.ts';

const schema = buildSchema('type Query { boom: String }');
const subgraphFormat = createErrorFormatter();
const gatewayFormat = createErrorFormatter({ trustDownstream: true });

/** What `run` throws; fails the test when it throws nothing. */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return expect.unreachable('expected the call to throw');
}

/** The error graphql-js produces when the `boom` resolver throws `thrown`. */
async function thrownFromResolver(thrown: unknown): Promise<GraphQLError> {
  const result = await graphql({
    schema,
    source: '{ boom }',
    rootValue: {
      boom: () => {
        throw thrown;
      },
    },
  });
  const error = result.errors?.[0];
  if (!error) throw new Error('the resolver did not fail');
  return error;
}

/** What Apollo Server hands formatError: the error as JSON, a code filled in and, in development, a stack trace. */
function apolloFormatted(error: GraphQLError): GraphQLFormattedError {
  const json = error.toJSON();
  return {
    ...json,
    extensions: { ...json.extensions, code: error.extensions.code ?? 'INTERNAL_SERVER_ERROR', stacktrace: (error.stack ?? '').split('\n') },
  };
}

function format(formatter: ReturnType<typeof createErrorFormatter>, error: GraphQLError): GraphQLFormattedError {
  return formatter(apolloFormatted(error), error);
}

/** A subgraph error as @apollo/gateway re-raises it: the subgraph's JSON error becomes a plain-object originalError. */
function gatewayError(message: string, extensions: Record<string, unknown>): GraphQLError {
  const downstream = { message, extensions, path: ['wallet'] };
  return new GraphQLError(message, {
    path: ['me', 'wallet'],
    originalError: downstream as unknown as Error,
    extensions: { code: extensions.code, serviceName: 'wallet', ...extensions },
  });
}

describe('createErrorFormatter with domain errors', () => {
  it('keeps the code, message, path and location of a domain error thrown in a resolver', async () => {
    const error = await thrownFromResolver(new BadUserInputError('The amount must be greater than zero, got "0".'));
    expect(format(subgraphFormat, error)).toEqual({
      message: 'The amount must be greater than zero, got "0".',
      path: ['boom'],
      locations: [{ line: 1, column: 3 }],
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('adds retryAfterSeconds for a RateLimitedError', async () => {
    const formatted = format(subgraphFormat, await thrownFromResolver(new RateLimitedError(30)));
    expect(formatted.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 30 });
    expect(formatted.message).toContain('30 seconds');
  });

  const domainErrors: [DomainError, ErrorCode][] = [
    [new UnauthenticatedError(), 'UNAUTHENTICATED'],
    [new ForbiddenError(), 'FORBIDDEN'],
    [new InvalidCredentialsError(), 'INVALID_CREDENTIALS'],
    [new UsernameTakenError('alice'), 'USERNAME_TAKEN'],
    [new GiftCardNotFoundError(), 'GIFT_CARD_NOT_FOUND'],
    [new GiftCardUsedUpError(), 'GIFT_CARD_USED_UP'],
    [new GiftCardExpiredError(), 'GIFT_CARD_EXPIRED'],
    [new GiftCardDisabledError(), 'GIFT_CARD_DISABLED'],
    [new CurrencyMismatchError('USD', 'EUR'), 'CURRENCY_MISMATCH'],
    [new InsufficientFundsError(), 'INSUFFICIENT_FUNDS'],
    [new RecipientNotFoundError('bob'), 'RECIPIENT_NOT_FOUND'],
    [new IdempotencyKeyReusedError(), 'IDEMPOTENCY_KEY_REUSED'],
  ];

  it.each(domainErrors)('passes %s through with its contract code %s and message', async (domainError, code) => {
    const formatted = format(subgraphFormat, await thrownFromResolver(domainError));
    expect(formatted.extensions).toEqual({ code });
    expect(formatted.message).toBe(domainError.message);
    expect(CONTRACT_ERROR_CODES.has(code)).toBe(true);
  });

  it('builds a GraphQLError for a domain error with its code, details and path', () => {
    const error = domainErrorToGraphQL(new RateLimitedError(12), ['activateGiftCard']);
    expect(error.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 12 });
    expect(error.path).toEqual(['activateGiftCard']);
  });
});

describe('createErrorFormatter masking', () => {
  it('masks a plain Error as INTERNAL_SERVER_ERROR without leaking its message, SQL or stack', async () => {
    const sqlError = new Error('duplicate key value violates unique constraint "users_username_key": insert into accounts.users (password_hash) values ($1)');
    const formatted = format(subgraphFormat, await thrownFromResolver(sqlError));
    expect(formatted).toEqual({ message: 'Something went wrong on our side.', path: ['boom'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    const text = JSON.stringify(formatted);
    expect(text).not.toMatch(/insert|users|password_hash|constraint|stacktrace|at /i);
  });

  it('masks a thrown non-Error value', async () => {
    const formatted = format(subgraphFormat, await thrownFromResolver('select * from wallet.ledger_entries'));
    expect(formatted.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(JSON.stringify(formatted)).not.toContain('ledger_entries');
  });

  it('masks a plain Error that carries a contract-looking code, in a subgraph and at the gateway', async () => {
    const impostor = Object.assign(new Error('connection refused to 10.0.0.5:5432'), { extensions: { code: 'FORBIDDEN' } });
    const error = await thrownFromResolver(impostor);
    expect(error.extensions.code).toBe('FORBIDDEN');
    expect(format(subgraphFormat, error).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(format(gatewayFormat, error).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(format(gatewayFormat, error).message).not.toContain('10.0.0.5');
  });

  it('masks a GraphQLError without a code, such as a Decimal that cannot be serialized', async () => {
    const serialize = () => DecimalScalar.serialize(12.5);
    const serializeError = thrownBy(serialize);
    expect(serializeError).toBeInstanceOf(GraphQLError);
    expect((serializeError as GraphQLError).extensions.code).toBeUndefined();
    const formatted = format(subgraphFormat, await thrownFromResolver(serializeError));
    expect(formatted.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });

  it('quotes the request id that errorLoggingPlugin tagged on a masked error, and logs the original once', async () => {
    const log = vi.fn();
    const logger = { error: log } as unknown as Logger;
    const error = await thrownFromResolver(new Error('secret internals'));
    const listener = await errorLoggingPlugin<{ requestId?: string }>(logger).requestDidStart?.({} as never);
    await listener?.didEncounterErrors?.({ contextValue: { requestId: 'req-42' }, errors: [error], operationName: 'Pay' } as never);

    const formatted = format(subgraphFormat, error);
    expect(formatted.message).toBe('Something went wrong on our side (request req-42).');
    expect(formatted.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: 'req-42' });
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0]?.[0]).toMatchObject({ err: error.originalError, requestId: 'req-42', operationName: 'Pay' });
  });

  it('neither logs nor tags an error the client may see', async () => {
    const log = vi.fn();
    const error = await thrownFromResolver(new InsufficientFundsError());
    const listener = await errorLoggingPlugin<{ requestId?: string }>({ error: log } as unknown as Logger).requestDidStart?.({} as never);
    await listener?.didEncounterErrors?.({ contextValue: { requestId: 'req-7' }, errors: [error], operationName: null } as never);
    expect(log).not.toHaveBeenCalled();
    expect(format(subgraphFormat, error).extensions).toEqual({ code: 'INSUFFICIENT_FUNDS' });
  });
});

describe('createErrorFormatter with errors raised by graphql', () => {
  it('passes a GRAPHQL_VALIDATION_FAILED error through with its message and location', () => {
    const [validationError] = validate(schema, parse('{ nope }'));
    if (!validationError) throw new Error('expected a validation error');
    // Apollo Server wraps graphql-js validation errors like this (ValidationError).
    const error = new GraphQLError(validationError.message, {
      nodes: validationError.nodes,
      originalError: validationError.originalError,
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const formatted = format(subgraphFormat, error);
    expect(formatted.message).toBe('Cannot query field "nope" on type "Query".');
    expect(formatted.locations).toEqual([{ line: 1, column: 3 }]);
    expect(formatted.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });

  it('passes a refused Decimal variable through as BAD_USER_INPUT', async () => {
    const decimalSchema = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: { echo: { type: GraphQLString, args: { amount: { type: new GraphQLNonNull(DecimalScalar) } } } },
      }),
    });
    const result = await graphql({ schema: decimalSchema, source: 'query($a: Decimal!) { echo(amount: $a) }', variableValues: { a: 12.5 } });
    const error = result.errors?.[0];
    if (!error) throw new Error('expected the variable to be refused');
    const formatted = format(subgraphFormat, error);
    expect(formatted.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(formatted.message).toContain('A Decimal is a string');
  });

  it('drops extensions other than code, retryAfterSeconds, requestId and service', () => {
    const error = new GraphQLError('Variable "$first" got invalid value', {
      extensions: {
        code: 'BAD_USER_INPUT',
        requestId: 'req-1',
        retryAfterSeconds: 3,
        service: 'wallet',
        exception: { stacktrace: ['at db.ts:1'] },
        sql: 'select 1',
      },
    });
    expect(format(subgraphFormat, error).extensions).toEqual({ code: 'BAD_USER_INPUT', requestId: 'req-1', retryAfterSeconds: 3, service: 'wallet' });
  });

  it('masks a code that is neither a request nor a contract code', () => {
    const error = new GraphQLError('boom', { extensions: { code: 'SOMETHING_ELSE' } });
    expect(format(subgraphFormat, error).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });
});

describe('createErrorFormatter at the gateway (trustDownstream)', () => {
  it('passes a subgraph error with a contract code through with its message and path', () => {
    const error = gatewayError('The wallet balance is too low for this amount.', { code: 'INSUFFICIENT_FUNDS' });
    expect(format(gatewayFormat, error)).toEqual({
      message: 'The wallet balance is too low for this amount.',
      path: ['me', 'wallet'],
      extensions: { code: 'INSUFFICIENT_FUNDS' },
    });
  });

  it('keeps retryAfterSeconds and requestId from a subgraph but drops serviceName and anything else', () => {
    const error = gatewayError('Too many failed attempts; try again in 60 seconds.', {
      code: 'RATE_LIMITED',
      retryAfterSeconds: 60,
      requestId: 'req-9',
      exception: { stacktrace: ['Error: at gift-cards.service.ts:10'] },
      query: 'select * from gift_cards',
    });
    expect(format(gatewayFormat, error).extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 60, requestId: 'req-9' });
  });

  it('masks the same subgraph error in a subgraph, which does not trust downstream errors', () => {
    const error = gatewayError('The wallet balance is too low for this amount.', { code: 'INSUFFICIENT_FUNDS' });
    expect(format(subgraphFormat, error).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });

  it.each([
    ['DOWNSTREAM_SERVICE_ERROR', 'Error while fetching subquery from service "wallet"'],
    ['INTERNAL_SERVER_ERROR', 'relation "wallet.ledger_entries" does not exist: select * from wallet.ledger_entries'],
    ['SQL_ERROR', 'insert into accounts.users (password_hash) values ($1) failed'],
    ['PERSISTED_QUERY_NOT_FOUND', 'select 1'],
  ])('masks a subgraph error with the non-contract code %s without leaking its message', (code, message) => {
    const formatted = format(gatewayFormat, gatewayError(message, { code }));
    expect(formatted.message).toBe('Something went wrong on our side.');
    expect(formatted.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(JSON.stringify(formatted)).not.toMatch(/select|insert|ledger_entries|subquery|serviceName/);
  });

  it('still keeps a domain error raised in the gateway itself', async () => {
    const formatted = format(gatewayFormat, await thrownFromResolver(new UnauthenticatedError()));
    expect(formatted.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });
});

describe('publicExtensionsOf', () => {
  it('reads a bare domain error and refuses a bare Error', () => {
    expect(publicExtensionsOf(new ForbiddenError(), false)).toEqual({ code: 'FORBIDDEN' });
    expect(publicExtensionsOf(new Error('x'), true)).toBeNull();
    expect(publicExtensionsOf('x', true)).toBeNull();
  });
});
