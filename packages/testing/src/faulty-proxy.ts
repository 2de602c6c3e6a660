// An HTTP proxy in front of a real service that fails on demand, for tests of what happens
// when a call fails mid-way: the service itself stays real (it still commits what it is
// sent); only the network between the two misbehaves. It counts what it did to each request,
// so a fault test can assert that the fault really happened, and it can hold requests open
// until the test releases them, so two callers can be made to overlap for certain.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Listening, listen } from '@giftpay/common';

export type FaultMode =
  /** Forward requests and answers untouched. */
  | 'pass'
  /** Answer 503 at once; the service never sees the request. */
  | 'refuse'
  /** Never answer; the caller's timeout decides. The service never sees the request. */
  | 'hang'
  /** Forward the request, let the service do the work, then drop the connection instead of answering. */
  | 'lose-response'
  /** Keep the request waiting, unsent, until `release()`; then forward it as 'pass' does. */
  | 'hold';

export interface FaultCounts {
  /** Requests that reached the proxy. */
  readonly received: number;
  /** Requests the service actually received through the proxy. */
  readonly forwarded: number;
  /** Requests answered 503 by the proxy ('refuse'). */
  readonly refused: number;
  /** Requests left without an answer ('hang'). */
  readonly hung: number;
  /** Requests the service handled whose answer the proxy dropped ('lose-response'). */
  readonly lost: number;
  /** Requests kept waiting by 'hold' (those released since are still counted). */
  readonly held: number;
}

export interface FaultyProxy {
  readonly url: string;
  /** What happens to a request that no `next()` plan covers. */
  mode: FaultMode;
  /** Requests the service actually received through the proxy (as `counts.forwarded`). */
  readonly forwarded: number;
  /** What the proxy did since it started or since the last `reset()`. */
  readonly counts: FaultCounts;
  /** The bodies of the requests the service received, in the order they were sent to it. */
  readonly forwardedBodies: readonly string[];
  /** The path and headers of each of those requests (host, connection and content-length left out, as they are when forwarded). */
  readonly forwardedRequests: readonly { readonly path: string; readonly headers: Readonly<Record<string, string>> }[];
  /**
   * The bodies of the requests counted under `counter` since the last `reset()`, in arrival
   * order (`received`: every request), once each has been read: a call that carries several
   * items (a batch of credits) is one request, and a test counts its items from here.
   */
  bodies(counter: keyof FaultCounts): Promise<string[]>;
  /**
   * The next `count` requests meet `mode`, whatever `this.mode` is; later ones meet `this.mode`
   * again. Plans queue up in call order. E.g. `mode = 'refuse'; next(12, 'pass')` lets exactly
   * twelve requests through before the wallet "goes down".
   */
  next(count: number, mode: FaultMode): void;
  /** Resolves once `counts[counter]` reaches `atLeast`; rejects after `timeoutMs`. */
  waitFor(counter: keyof FaultCounts, atLeast: number, timeoutMs?: number): Promise<void>;
  /** Forwards every request still held, in arrival order, as 'pass' does. */
  release(): void;
  /** Back to 'pass' with no plan queued and every counter at 0; requests still hanging or held are dropped. */
  reset(): void;
  close(): Promise<void>;
}

const ZERO: FaultCounts = { received: 0, forwarded: 0, refused: 0, hung: 0, lost: 0, held: 0 };

export async function startFaultyProxy(targetUrl: string): Promise<FaultyProxy> {
  let counts: { -readonly [K in keyof FaultCounts]: number } = { ...ZERO };
  /** Every request under each counter it was counted in, with its body (known at once for those forwarded). */
  let seen: { counter: keyof FaultCounts; body: Promise<string>; text?: string; path?: string; headers?: Record<string, string> }[] = [];
  let mode: FaultMode = 'pass';
  let plans: { remaining: number; mode: FaultMode }[] = [];
  const open = new Set<ServerResponse>();
  let holding: { req: IncomingMessage; res: ServerResponse; body: Promise<Buffer> }[] = [];
  let waiters: { counter: keyof FaultCounts; atLeast: number; resolve(): void }[] = [];

  function count(counter: keyof FaultCounts): void {
    counts[counter] += 1;
    waiters = waiters.filter((waiter) => {
      if (counts[waiter.counter] < waiter.atLeast) return true;
      waiter.resolve();
      return false;
    });
  }

  /** The mode for a request arriving now: decided on arrival, so `next(K, …)` counts exactly under concurrency. */
  function modeForArrival(): FaultMode {
    const plan = plans[0];
    if (!plan) return mode;
    plan.remaining -= 1;
    if (plan.remaining <= 0) plans.shift();
    return plan.mode;
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  function keepOpen(res: ServerResponse): void {
    open.add(res);
    res.on('close', () => open.delete(res));
  }

  function forward(req: IncomingMessage, res: ServerResponse, body: Promise<Buffer>, loseResponse: boolean): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers[name] = value;
    }
    body
      .then(async (bytes) => {
        const text = bytes.toString('utf8');
        seen.push({ counter: 'forwarded', body: Promise.resolve(text), text, path: req.url ?? '/', headers });
        count('forwarded');
        const response = await fetch(`${targetUrl}${req.url ?? '/'}`, {
          method: req.method ?? 'GET',
          headers,
          body: bytes.length > 0 ? new Uint8Array(bytes) : null,
        });
        const answer = Buffer.from(await response.arrayBuffer());
        if (loseResponse) {
          count('lost');
          res.socket?.destroy();
          return;
        }
        res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'application/json' }).end(answer);
      })
      .catch(() => res.socket?.destroy());
  }

  const server = createServer((req, res) => {
    count('received');
    const arrival = modeForArrival();
    const body = readBody(req);
    body.catch(() => {});
    const text = body.then(
      (bytes) => bytes.toString('utf8'),
      () => '',
    );
    seen.push({ counter: 'received', body: text });
    const fate = ({ refuse: 'refused', hang: 'hung', hold: 'held', 'lose-response': 'lost', pass: null } as const)[arrival];
    if (fate) seen.push({ counter: fate, body: text });
    switch (arrival) {
      case 'refuse':
        count('refused');
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
        return;
      case 'hang':
        count('hung');
        keepOpen(res);
        return;
      case 'hold':
        count('held');
        keepOpen(res);
        holding.push({ req, res, body });
        return;
      default:
        forward(req, res, body, arrival === 'lose-response');
    }
  });
  const listening: Listening = await listen(server, 0, '127.0.0.1');

  return {
    url: listening.url,
    get mode() {
      return mode;
    },
    set mode(next: FaultMode) {
      mode = next;
    },
    get forwarded() {
      return counts.forwarded;
    },
    get counts() {
      return { ...counts };
    },
    get forwardedBodies() {
      return seen.flatMap((item) => (item.counter === 'forwarded' ? [item.text as string] : []));
    },
    get forwardedRequests() {
      return seen.flatMap((item) => (item.counter === 'forwarded' ? [{ path: item.path as string, headers: item.headers as Record<string, string> }] : []));
    },
    bodies(counter) {
      return Promise.all(seen.filter((item) => item.counter === counter).map((item) => item.body));
    },
    next(count, planned) {
      if (!Number.isInteger(count) || count < 1) throw new Error(`next() needs a positive count, not ${count}`);
      plans.push({ remaining: count, mode: planned });
    },
    waitFor(counter, atLeast, timeoutMs = 15_000) {
      if (counts[counter] >= atLeast) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((waiter) => waiter.resolve !== done);
          reject(new Error(`the proxy's ${counter} count stayed at ${counts[counter]}, below ${atLeast}, for ${timeoutMs} ms`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push({ counter, atLeast, resolve: done });
      });
    },
    release() {
      const released = holding;
      holding = [];
      for (const { req, res, body } of released) forward(req, res, body, false);
    },
    reset() {
      for (const res of open) res.socket?.destroy();
      open.clear();
      holding = [];
      plans = [];
      mode = 'pass';
      counts = { ...ZERO };
      seen = [];
    },
    async close() {
      for (const res of open) res.socket?.destroy();
      server.closeAllConnections();
      await listening.close();
    },
  };
}
