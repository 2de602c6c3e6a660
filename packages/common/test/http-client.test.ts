// Calls between our own processes (gateway → subgraph, gift-cards → wallet) over undici's
// request API, against a real HTTP server on port 0: answers, refusals, timeouts, an
// unreachable peer, and connections kept alive between calls.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpCall, responseLike } from '../src/http-client.ts';
import { postToService, ServiceCallError } from '../src/service-client.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

async function serve(handler: (request: IncomingMessage, body: string, response: ServerResponse) => void) {
  const state = { connections: 0 };
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => handler(request, body, response));
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function rejectionOf(promise: Promise<unknown>): Promise<ServiceCallError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ServiceCallError) return error;
    throw error;
  }
  throw new Error('the call did not fail');
}

describe('postToService', () => {
  it('sends the JSON body and the service credential, and returns the parsed answer', async () => {
    const server = await serve((request, body, response) => {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token: request.headers['x-giftpay-service-token'], requestId: request.headers['x-request-id'], got: JSON.parse(body) }));
    });
    const answer = await postToService<Record<string, unknown>>({
      url: `${server.url}/internal/credits`,
      serviceToken: 'secret-1',
      body: { amount: '10' },
      timeoutMs: 5_000,
      requestId: 'req-1',
    });
    expect(answer).toEqual({ token: 'secret-1', requestId: 'req-1', got: { amount: '10' } });
  });

  it('turns a refusal into a ServiceCallError with its status and parsed body', async () => {
    const server = await serve((_request, _body, response) => {
      response.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'CURRENCY_MISMATCH', message: 'no' }));
    });
    const error = await rejectionOf(postToService({ url: server.url, serviceToken: 't', body: {}, timeoutMs: 5_000 }));
    expect(error.status).toBe(422);
    expect(error.body).toEqual({ code: 'CURRENCY_MISMATCH', message: 'no' });
  });

  it('gives up after its timeout with no status, and lets go of the request the server got and never answered', async () => {
    let settled = false;
    const received: { body: string; callSettled: boolean; closed: Promise<void> }[] = [];
    const server = await serve((request, body) => {
      // Never answers. Notes whether the call was still waiting once the whole request was
      // here, and when the client closes the connection under it.
      received.push({ body, callSettled: settled, closed: new Promise((done) => request.socket.once('close', () => done())) });
    });
    const call = postToService({ url: server.url, serviceToken: 't', body: { amount: '10' }, timeoutMs: 300 }).finally(() => {
      settled = true;
    });
    const error = await rejectionOf(call);
    expect(error.status).toBeNull();
    // Only the call's own timeout says this (HttpTimeoutError, when its AbortSignal.timeout fired).
    expect(error.message).toBe(`POST ${server.url} failed: timed out after 300 ms`);
    // The request got there and the call waited on it: it gave up on a request underway, not
    // one it failed to send.
    expect(received.map(({ body, callSettled }) => ({ body, callSettled }))).toEqual([{ body: '{"amount":"10"}', callSettled: false }]);
    // And it let go of it: the server sees the connection closed.
    await received[0]?.closed;
  });

  it('fails with no status when nothing listens', async () => {
    const server = await serve(() => {});
    const url = server.url;
    for (const open of servers.splice(0)) await new Promise((done) => open.close(done));
    const error = await rejectionOf(postToService({ url, serviceToken: 't', body: {}, timeoutMs: 5_000 }));
    expect(error.status).toBeNull();
    expect(error.message).toContain(`POST ${url} failed`);
  });
});

describe('httpCall', () => {
  it('keeps its connections alive across calls made one after another', async () => {
    const server = await serve((_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    for (let call = 0; call < 20; call++) expect((await httpCall(server.url, { body: '{}', timeoutMs: 5_000 })).text).toBe('ok');
    // A connection may be opened while the previous one is being handed back to the pool, but
    // never one per call, as without keep-alive.
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it('hands Apollo a Response-shaped answer: status, ok, headers by any case, text and JSON', async () => {
    const server = await serve((_request, _body, response) => {
      response.writeHead(400, { 'content-type': 'application/json', 'retry-after': '3' }).end('{"errors":[{"message":"bad"}]}');
    });
    const response = responseLike(server.url, await httpCall(server.url, { body: '{}', timeoutMs: 5_000 }));
    expect(response.status).toBe(400);
    expect(response.ok).toBe(false);
    expect(response.headers.get('Content-Type')).toBe('application/json');
    expect(response.headers.get('Retry-After')).toBe('3');
    expect(response.headers.get('x-missing')).toBeNull();
    expect(await response.json()).toEqual({ errors: [{ message: 'bad' }] });
    expect(await response.text()).toBe('{"errors":[{"message":"bad"}]}');
  });
});
