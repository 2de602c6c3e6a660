// Clients for services in processes of their own (no in-process Stack to ask): GraphQL over
// fetch, /health, and raw sockets for the tests of the HTTP edge (slow clients, connection caps).

import { connect, type Socket } from 'node:net';

export interface GraphQLAnswer<T> {
  readonly status: number;
  readonly data?: T | null;
  readonly errors?: { message: string; extensions?: { code?: string; retryAfterSeconds?: number } & Record<string, unknown> }[];
}

/** POSTs one GraphQL operation to `url` (the endpoint itself, e.g. `http://127.0.0.1:4000/graphql`). */
export async function postGraphQL<T>(
  url: string,
  query: string,
  options: { token?: string; variables?: Record<string, unknown>; timeoutMs?: number } = {},
): Promise<GraphQLAnswer<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

/** The status of GET `<baseUrl>/health`, or 0 when nothing answers within `timeoutMs`. */
export async function healthStatus(baseUrl: string, timeoutMs = 2000): Promise<number> {
  try {
    return (await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) })).status;
  } catch {
    return 0;
  }
}

export function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((done, fail) => {
    const socket = connect(Number(port), hostname, () => done(socket));
    socket.once('error', fail);
  });
}

/** Resolves with how long the server took to end the connection, and what it said first. */
export function closedAfter(socket: Socket): Promise<{ ms: number; said: string }> {
  const started = Date.now();
  let said = '';
  socket.on('data', (chunk) => {
    said += chunk.toString();
  });
  socket.on('error', () => {});
  return new Promise((done) => socket.once('close', () => done({ ms: Date.now() - started, said })));
}

/**
 * A slow client: opens a connection to `url`, writes `start`, then one more `drip` every
 * `everyMs` for as long as the server keeps the connection open. Resolves, once the server has
 * closed it, with how long that took and what the server said.
 */
export async function trickleUntilClosed(url: string, start: string, drip: string, everyMs = 200): Promise<{ ms: number; said: string }> {
  const socket = await openSocket(url);
  const closed = closedAfter(socket);
  socket.write(start);
  const trickle = setInterval(() => socket.writable && socket.write(drip), everyMs);
  try {
    return await closed;
  } finally {
    clearInterval(trickle);
    socket.destroy();
  }
}
