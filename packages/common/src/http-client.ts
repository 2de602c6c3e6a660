// Outgoing HTTP between our own processes (the gateway to each subgraph, gift-cards to the
// wallet) on undici's `request` API over one keep-alive Agent per process. WHATWG `fetch`
// (also undici underneath) builds Request, Headers and a web stream for every call; on the
// hot path of a promotion that was a large share of the gateway's CPU (docs/performance.md).

import { Agent, type Dispatcher, request } from 'undici';

/** Kept-alive connections, shared by every call of this process. */
let agent: Agent | undefined;

function sharedAgent(): Agent {
  agent ??= new Agent({
    // Below Node's server default (5 s), and undici also follows the server's Keep-Alive hint,
    // so a connection is never reused just as the other side closes it.
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 4_000,
    connect: { timeout: 5_000 },
  });
  return agent;
}

export class HttpTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export interface HttpCall {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** The whole call, from connecting to the last byte of the answer. */
  readonly timeoutMs: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** One call, its answer read whole. A timeout rejects with HttpTimeoutError; anything else with undici's own error. */
export async function httpCall(url: string, call: HttpCall): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(call.timeoutMs);
  try {
    const response: Dispatcher.ResponseData = await request(url, {
      method: call.method ?? 'POST',
      headers: call.headers,
      body: call.body,
      signal,
      dispatcher: sharedAgent(),
    });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text };
  } catch (error) {
    if (signal.aborted) throw new HttpTimeoutError(`no answer from ${url} within ${call.timeoutMs} ms`);
    throw error;
  }
}

/** The answer in the shape of a WHATWG Response, as far as Apollo's RemoteGraphQLDataSource reads it. */
export function responseLike(url: string, answer: HttpAnswer) {
  return {
    url,
    status: answer.status,
    statusText: '',
    ok: answer.status >= 200 && answer.status < 300,
    headers: {
      get(name: string): string | null {
        const value = answer.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    async text(): Promise<string> {
      return answer.text;
    },
    async json(): Promise<unknown> {
      return JSON.parse(answer.text);
    },
  };
}

/** Closes the kept-alive connections (at shutdown, so the process can exit at once). */
export async function closeHttpClient(): Promise<void> {
  const closing = agent;
  agent = undefined;
  await closing?.close();
}
