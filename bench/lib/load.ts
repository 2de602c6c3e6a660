// The load: GraphQL over HTTP on loopback with node:http and a keep-alive agent (cheaper
// for the client than WHATWG fetch, so more of the machine is left to what is measured),
// a fixed number of requests in flight, and a deadline after which nothing more is sent.

import { Agent, request } from 'node:http';

export interface GraphQLReply<T = unknown> {
  readonly status: number;
  readonly data?: T | null;
  readonly errors?: readonly { message?: string; extensions?: { code?: string } }[];
}

export interface Sample<R> {
  /** Order in which the request was sent, from 0. */
  readonly position: number;
  /** When it was sent, in ms from the start of the burst. */
  readonly sentMs: number;
  readonly ms: number;
  /** The answer, or null when none came (the outcome then says why). */
  readonly reply: R | null;
  /** What the scenario makes of the answer: OK, an error code, NO_ANSWER_<reason>… */
  readonly outcome: string;
}

export interface GraphQLClient {
  post<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<GraphQLReply<T>>;
  close(): void;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** A client with up to `sockets` keep-alive connections. */
export function createGraphQLClient(sockets: number): GraphQLClient {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  return {
    post<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<GraphQLReply<T>> {
      const body = JSON.stringify({ query, variables });
      const target = new URL(url);
      return new Promise((resolve, reject) => {
        const outgoing = request(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              accept: 'application/graphql-response+json, application/json',
              'content-length': Buffer.byteLength(body),
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            timeout: REQUEST_TIMEOUT_MS,
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('error', reject);
            response.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              try {
                const parsed = JSON.parse(text) as Omit<GraphQLReply<T>, 'status'>;
                resolve({ status: response.statusCode ?? 0, data: parsed.data, errors: parsed.errors });
              } catch {
                resolve({ status: response.statusCode ?? 0, errors: [{ message: text.slice(0, 200), extensions: { code: `HTTP_${response.statusCode}` } }] });
              }
            });
          },
        );
        outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
        outgoing.on('error', reject);
        outgoing.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** OK when the answer has data and no error; otherwise the first error's code. */
export function outcomeOf(reply: GraphQLReply): string {
  const code = reply.errors?.[0]?.extensions?.code;
  if (reply.errors && reply.errors.length > 0) return typeof code === 'string' ? code : `HTTP_${reply.status}_NO_CODE`;
  return reply.data ? 'OK' : `HTTP_${reply.status}_NO_DATA`;
}

export interface Burst<R> {
  readonly samples: Sample<R>[];
  /** Wall time from the first send to the last answer, in seconds. */
  readonly seconds: number;
  /** Requests never sent because the deadline passed. */
  readonly unsent: number;
}

/**
 * Sends `count` requests, `send(index)` each, with `concurrency` in flight, in index order;
 * stops sending at `deadlineMs` from the start (what is in flight still finishes).
 */
export async function runBurst<R>(
  count: number,
  concurrency: number,
  deadlineMs: number,
  send: (index: number) => Promise<R>,
  outcome: (reply: R, index: number) => string,
): Promise<Burst<R>> {
  const samples: Sample<R>[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && performance.now() - started < deadlineMs) {
        const position = next++;
        const sent = performance.now();
        let reply: R | null = null;
        let result: string;
        try {
          reply = await send(position);
          result = outcome(reply, position);
        } catch (error) {
          result = `NO_ANSWER_${String((error as NodeJS.ErrnoException).code ?? (error as Error).name)}`;
        }
        samples.push({ position, sentMs: sent - started, ms: performance.now() - sent, reply, outcome: result });
      }
    }),
  );
  samples.sort((a, b) => a.position - b.position);
  return { samples, seconds: (performance.now() - started) / 1000, unsent: count - samples.length };
}

/** The p-th percentile (nearest rank) of ascending values; null when there are none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function latencySummary(values: readonly number[]): { p50: number | null; p95: number | null; p99: number | null; max: number | null } {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (value: number | null) => (value === null ? null : Number(value.toFixed(1)));
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? null) };
}

export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
