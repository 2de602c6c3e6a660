// The shared HTTP edge on a real socket: one access-log line per request with its request
// id and path (never the query string), liveness, and the request id echoed back.

import { Writable } from 'node:stream';
import type { ApolloServer, BaseContext } from '@apollo/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, type Listening, listen } from '../src/http.ts';

const lines: Record<string, unknown>[] = [];
let listening: Listening;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const server = createHttpApp<BaseContext>({
    logger: pino({ level: 'debug' }, sink),
    // Only paths that never reach GraphQL are requested here.
    apollo: {} as ApolloServer<BaseContext>,
    context: async () => ({}),
    ready: async () => true,
  });
  listening = await listen(server, 0, '127.0.0.1');
});

afterAll(async () => {
  await listening?.close();
});

describe('the HTTP edge', () => {
  it('logs one line per request with the request id, method, path and status, and never the query string', async () => {
    const response = await fetch(`${listening.url}/nowhere?token=secret-value&query=x`, { headers: { 'x-request-id': 'log-me-1' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('log-me-1');
    await new Promise((done) => setTimeout(done, 20));
    const line = lines.find((entry) => entry.requestId === 'log-me-1');
    expect(line).toMatchObject({ msg: 'request', method: 'GET', path: '/nowhere', status: 404, level: 30 });
    expect(typeof line?.ms).toBe('number');
    expect(JSON.stringify(lines)).not.toContain('secret-value');
  });

  it('answers liveness, and logs health checks only at debug level', async () => {
    const response = await fetch(`${listening.url}/health/live`, { headers: { 'x-request-id': 'live-1' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'alive' });
    await new Promise((done) => setTimeout(done, 20));
    expect(lines.find((entry) => entry.requestId === 'live-1')).toMatchObject({ level: 20, path: '/health/live' });
  });
});

describe('stopping', () => {
  it('finishes a request in flight, then refuses new connections (what SIGTERM does through runService)', async () => {
    const server = createHttpApp<BaseContext>({
      logger: pino({ level: 'silent' }),
      apollo: {} as ApolloServer<BaseContext>,
      context: async () => ({}),
      ready: async () => true,
      routes: [
        {
          method: 'GET',
          path: '/slow',
          handle: async () => {
            await new Promise((done) => setTimeout(done, 300));
            return { status: 200, body: { finished: true } };
          },
        },
      ],
    });
    const running = await listen(server, 0, '127.0.0.1');
    const inFlight = fetch(`${running.url}/slow`);
    await new Promise((done) => setTimeout(done, 50));
    const closed = running.close();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ finished: true });
    await closed;
    await expect(fetch(`${running.url}/slow`)).rejects.toThrow();
  });
});
