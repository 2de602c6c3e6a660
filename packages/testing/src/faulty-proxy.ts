// An HTTP proxy in front of a real service that fails on demand, for tests of what happens
// when a call fails mid-way: the service itself stays real (it still commits what it is
// sent); only the network between the two misbehaves.

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
  | 'lose-response';

export interface FaultyProxy {
  readonly url: string;
  mode: FaultMode;
  /** Requests the service actually received through the proxy. */
  readonly forwarded: number;
  close(): Promise<void>;
}

export async function startFaultyProxy(targetUrl: string): Promise<FaultyProxy> {
  let forwarded = 0;
  const hanging = new Set<ServerResponse>();
  const state = { mode: 'pass' as FaultMode };

  async function forward(req: IncomingMessage): Promise<Response> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers[name] = value;
    }
    forwarded += 1;
    return fetch(`${targetUrl}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, body: chunks.length > 0 ? Buffer.concat(chunks) : null });
  }

  const server = createServer((req, res) => {
    const mode = state.mode;
    if (mode === 'refuse') {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
      return;
    }
    if (mode === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    forward(req)
      .then(async (response) => {
        const body = Buffer.from(await response.arrayBuffer());
        if (mode === 'lose-response') {
          res.socket?.destroy();
          return;
        }
        res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'application/json' }).end(body);
      })
      .catch(() => res.socket?.destroy());
  });
  const listening: Listening = await listen(server, 0, '127.0.0.1');
  return {
    url: listening.url,
    get mode() {
      return state.mode;
    },
    set mode(next: FaultMode) {
      state.mode = next;
    },
    get forwarded() {
      return forwarded;
    },
    async close() {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections();
      await listening.close();
    },
  };
}
