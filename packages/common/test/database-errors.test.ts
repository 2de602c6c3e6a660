// What a client is told when the database is out of reach: SERVICE_UNAVAILABLE with a
// retryAfterSeconds, a message that names no host, port or SQL; and how fast the pool tries
// to reconnect after a run of failed connections.

import { buildSchema, GraphQLError, type GraphQLFormattedError, graphql } from 'graphql';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isTransientDatabaseFailure, isWaitTimeout, reconnectDelaySeconds } from '../src/database-errors.ts';
import { createErrorFormatter, ServiceUnavailableError } from '../src/errors.ts';

const schema = buildSchema('type Query { read: String }');

async function errorOfResolver(thrown: unknown): Promise<GraphQLError> {
  const result = await graphql({
    schema,
    source: '{ read }',
    rootValue: {
      read: () => {
        throw thrown;
      },
    },
  });
  const error = result.errors?.[0];
  if (!error) throw new Error('the resolver did not fail');
  return error;
}

function formatted(error: GraphQLError, trustDownstream = false): GraphQLFormattedError {
  return createErrorFormatter({ trustDownstream })({ ...error.toJSON(), extensions: { code: 'INTERNAL_SERVER_ERROR' } }, error);
}

/** The error postgres.js raises for a connection it lost, as in its errors.js. */
function driverConnectionError(code: string): Error {
  return Object.assign(new Error(`write ${code} 10.1.2.3:5432`), { code, errno: code, address: '10.1.2.3', port: 5432 });
}

function serverError(code: string, message: string): Error {
  return new postgres.PostgresError({ code, message, severity: 'FATAL' } as never);
}

describe('an error from a database that is out of reach', () => {
  const unavailable: [string, Error][] = [
    ['a connection closed under a query', driverConnectionError('CONNECTION_CLOSED')],
    ['a connection reset', driverConnectionError('ECONNRESET')],
    ['a refused connection', driverConnectionError('ECONNREFUSED')],
    ['a connect timeout', driverConnectionError('CONNECT_TIMEOUT')],
    ['a terminated backend (57P01)', serverError('57P01', 'terminating connection due to administrator command')],
    ['a server starting up (57P03)', serverError('57P03', 'the database system is starting up')],
    ['statement_timeout (57014)', serverError('57014', 'canceling statement due to statement timeout')],
    ['lock_timeout (55P03)', serverError('55P03', 'canceling statement due to lock timeout')],
    ['too many connections (53300)', serverError('53300', 'sorry, too many clients already')],
    ['a connection exception class 08 (08006)', serverError('08006', 'connection failure')],
    ['one wrapped by drizzle as the cause', Object.assign(new Error('Failed query: select 1'), { cause: driverConnectionError('CONNECTION_CLOSED') })],
  ];

  it.each(unavailable)('is SERVICE_UNAVAILABLE with retryAfterSeconds and no internals for %s', async (_name, thrown) => {
    expect(isDatabaseUnavailable(thrown)).toBe(true);
    const answer = formatted(await errorOfResolver(thrown));
    expect(answer.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
    expect(answer.message).toMatch(/could not reach its database/);
    expect(JSON.stringify(answer)).not.toMatch(/10\.1\.2\.3|5432|select|terminating|timeout/);
  });

  it.each([
    ['a deadlock (40P01)', serverError('40P01', 'deadlock detected')],
    ['a serialization failure (40001)', serverError('40001', 'could not serialize access due to concurrent update')],
    ['one wrapped by drizzle as the cause', Object.assign(new Error('Failed query: select 1'), { cause: serverError('40P01', 'deadlock detected') })],
  ])('is SERVICE_UNAVAILABLE with retryAfterSeconds, said busy, when it outlived the retries: %s', async (_name, thrown) => {
    expect(isDatabaseUnavailable(thrown)).toBe(false);
    expect(isTransientDatabaseFailure(thrown)).toBe(true);
    const answer = formatted(await errorOfResolver(thrown));
    expect(answer.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
    expect(answer.message).toMatch(/too busy to finish this just now; nothing was done twice/);
    expect(JSON.stringify(answer)).not.toMatch(/deadlock|serialize|select/);
  });

  it.each([
    ['a unique violation', serverError('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error', serverError('42601', 'syntax error at or near "selec"')],
    ['a plain error', new Error('boom')],
    ['nothing', undefined],
  ])('is not taken for an outage: %s', async (_name, thrown) => {
    expect(isDatabaseUnavailable(thrown)).toBe(false);
    expect(isTransientDatabaseFailure(thrown)).toBe(false);
    if (thrown) expect(formatted(await errorOfResolver(thrown)).extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('keeps SERVICE_UNAVAILABLE and its retryAfterSeconds from a subgraph at the gateway', async () => {
    const downstream = { message: 'The service could not reach its database just now.', extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 } };
    const error = new GraphQLError(downstream.message, { originalError: downstream as unknown as Error, extensions: downstream.extensions });
    expect(formatted(error, true).extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
  });

  it('gives a ServiceUnavailableError its code and retryAfterSeconds', async () => {
    const answer = formatted(await errorOfResolver(new ServiceUnavailableError('The wallet is not available just now.', 3)));
    expect(answer).toMatchObject({ message: 'The wallet is not available just now.', extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 3 } });
  });
});

describe('isWaitTimeout', () => {
  it("is one statement's wait (lock or statement timeout), also wrapped by drizzle, and not a connection lost", () => {
    expect(isWaitTimeout(serverError('55P03', 'canceling statement due to lock timeout'))).toBe(true);
    expect(isWaitTimeout(serverError('57014', 'canceling statement due to statement timeout'))).toBe(true);
    expect(isWaitTimeout(Object.assign(new Error('Failed query'), { cause: serverError('55P03', 'lock timeout') }))).toBe(true);
    expect(isWaitTimeout(serverError('57P01', 'terminating connection due to administrator command'))).toBe(false);
    expect(isWaitTimeout(driverConnectionError('CONNECTION_CLOSED'))).toBe(false);
  });
});

describe('reconnectDelaySeconds', () => {
  it('starts near 50 ms, grows with each failure in a row, and never passes 1 s', () => {
    for (let run = 0; run < 200; run += 1) {
      expect(reconnectDelaySeconds(0)).toBeGreaterThanOrEqual(0.025);
      expect(reconnectDelaySeconds(0)).toBeLessThanOrEqual(0.05);
      for (const failures of [5, 10, 50, 1000]) {
        const delay = reconnectDelaySeconds(failures);
        expect(delay).toBeGreaterThanOrEqual(0.5);
        expect(delay).toBeLessThanOrEqual(1);
      }
    }
    expect(reconnectDelaySeconds(3)).toBeLessThanOrEqual(0.4);
  });
});
