// freePort hands out ports that another process's listen(0) or outgoing connection cannot
// take in the meantime: below Linux's ephemeral range, free when handed out, and never the
// same one twice in a process (a stack's ports are all picked before any service listens).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { freePort } from '../src/index.ts';

const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);

function listen(port: number): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(() => new Promise((done) => server.close(() => done()))));
  });
}

describe('freePort', () => {
  it('hands out ports below the ephemeral range, each of which can be listened on', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralLow as number);
    }
    for (const port of new Set(ports)) await (await listen(port))();
  });

  it('never hands out the same port twice, even when the same free port comes up again before anyone listens on it', async () => {
    // Every random pick lands on one port: the picks after the first must go elsewhere.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      const ports = [await freePort(), await freePort(), await freePort()];
      expect(new Set(ports).size).toBe(3);
    } finally {
      random.mockRestore();
    }
  });
});
