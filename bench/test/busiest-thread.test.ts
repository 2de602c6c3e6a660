// The report names, for each path, the Node process whose main thread kept the most of a core
// busy over a burst (only a main thread near 1.00 sets a path's pace), beside its whole
// process (garbage collector's helpers and libuv's pool too), then how busy the machine's
// cores were. PostgreSQL (a process a connection) and the sum over every server are never named.

import { describe, expect, it } from 'vitest';
import { busiestThread, type PathFigures } from '../lib/figures.ts';
import { busiestThreadLine } from '../lib/report.ts';

function row(
  label: string,
  cpuMsPerRequest: Record<string, number>,
  mainThreadMsPerRequest: Record<string, number>,
  requests: number,
  seconds: number,
  machine: PathFigures['machine'] = null,
): PathFigures {
  return { label, cpuMsPerRequest, mainThreadMsPerRequest, requests, seconds, machine } as unknown as PathFigures;
}

describe('busiestThread', () => {
  it('is the Node process whose main thread kept the most of a core busy, with its whole process', () => {
    // 10,000 requests in 10 s: 1.0 ms a request is one core, 0.5 ms half of one.
    const figures = row(
      "GiftPay's gateway",
      { gateway: 0.97, 'gift-cards': 0.5, wallet: 0.02, postgres: 1.5, all: 2.99, client: 0.18 },
      { gateway: 0.7, 'gift-cards': 0.42, wallet: 0.02, client: 0.15 },
      10_000,
      10,
    );
    expect(busiestThread(figures)).toEqual({ name: 'gateway', cores: 0.7, processCores: 0.97 });
  });

  it('goes by the main thread, not by the whole process', () => {
    // gift-cards' process is the busier (GC helpers, crypto pool), its main thread the less busy.
    const figures = row('x', { gateway: 0.8, 'gift-cards': 0.95 }, { gateway: 0.75, 'gift-cards': 0.6 }, 1_000, 1);
    expect(busiestThread(figures)).toEqual({ name: 'gateway', cores: 0.75, processCores: 0.8 });
  });

  it('never names PostgreSQL or the sum over every server, however busy', () => {
    expect(busiestThread(row('claim statement alone', { postgres: 3, all: 3, client: 0.06 }, { client: 0.05 }, 7_000, 1))).toEqual({
      name: 'client',
      cores: 0.35,
      processCores: 0.42,
    });
  });

  it('is null when no such process took part or the burst took no time', () => {
    expect(busiestThread(row('x', { postgres: 1, all: 1 }, {}, 100, 1))).toBeNull();
    expect(busiestThread(row('x', { gateway: 1 }, { gateway: 1 }, 100, 0))).toBeNull();
  });
});

describe('busiestThreadLine', () => {
  it('names each path with its busiest thread and process, peers by their own names, then the machine', () => {
    const line = busiestThreadLine([
      row("GiftPay's gateway", { gateway: 1.0, 'gift-cards': 0.5, all: 1.6, client: 0.2 }, { gateway: 0.72, 'gift-cards': 0.4, client: 0.18 }, 9_000, 9, {
        cores: 2,
        busyShare: 0.874,
      }),
      row('Hive Gateway', { 'hive-gateway': 2.0, 'gift-cards': 0.8, all: 3, client: 0.2 }, { 'hive-gateway': 1.8, client: 0.2 }, 4_500, 9, {
        cores: 2,
        busyShare: 0.81,
      }),
      row('claim statement alone', { postgres: 0.2, all: 0.2, client: 0.06 }, { client: 0.05 }, 7_000, 1, null),
    ]);
    expect(line).toContain(
      "GiftPay's gateway: gateway 0.72 (its process 1.00); Hive Gateway: Hive Gateway 0.90 (its process 1.00); claim statement alone: load generator 0.35 (its process 0.42).",
    );
    expect(line).toContain("The machine's 2 cores were busy, whoever kept them so: GiftPay's gateway 87%; Hive Gateway 81%.");
  });

  it('is null when no path has such a process or a machine figure', () => {
    expect(busiestThreadLine([row('x', { postgres: 1, all: 1 }, {}, 10, 1)])).toBeNull();
  });
});
