// The report names, for each path, the one-thread process that kept the most of a core busy
// over a burst: a Node process near 1.00 sets the path's pace. PostgreSQL (a process a
// connection) and the sum over every server are never that process.

import { describe, expect, it } from 'vitest';
import { busiestProcess, type PathFigures } from '../lib/figures.ts';
import { busiestProcessLine } from '../lib/report.ts';

function row(label: string, cpuMsPerRequest: Record<string, number>, requests: number, seconds: number): PathFigures {
  return { label, cpuMsPerRequest, requests, seconds } as unknown as PathFigures;
}

describe('busiestProcess', () => {
  it('is the one-thread process with the most CPU over the burst, in cores', () => {
    // 10,000 requests in 10 s: 1.0 ms a request is one core, 0.5 ms half of one.
    const figures = row("GiftPay's gateway", { gateway: 0.97, 'gift-cards': 0.5, wallet: 0.02, postgres: 1.5, all: 2.99, client: 0.18 }, 10_000, 10);
    expect(busiestProcess(figures)).toEqual({ name: 'gateway', cores: 0.97 });
  });

  it('never names PostgreSQL or the sum over every server, however busy', () => {
    expect(busiestProcess(row('claim statement alone', { postgres: 3, all: 3, client: 0.06 }, 7_000, 1))).toEqual({ name: 'client', cores: 0.42 });
  });

  it('is null when no such process took part or the burst took no time', () => {
    expect(busiestProcess(row('x', { postgres: 1, all: 1 }, 100, 1))).toBeNull();
    expect(busiestProcess(row('x', { gateway: 1 }, 100, 0))).toBeNull();
  });
});

describe('busiestProcessLine', () => {
  it('names each path with its busiest process, peers by their own names', () => {
    const line = busiestProcessLine([
      row("GiftPay's gateway", { gateway: 1.0, 'gift-cards': 0.5, all: 1.6, client: 0.2 }, 9_000, 9),
      row('Hive Gateway', { 'hive-gateway': 2.0, 'gift-cards': 0.8, all: 3, client: 0.2 }, 4_500, 9),
      row('claim statement alone', { postgres: 0.2, all: 0.2, client: 0.06 }, 7_000, 1),
    ]);
    expect(line).toContain("GiftPay's gateway: gateway 1.00; Hive Gateway: Hive Gateway 1.00; claim statement alone: load generator 0.42.");
  });

  it('is null when no path has such a process', () => {
    expect(busiestProcessLine([row('x', { postgres: 1, all: 1 }, 10, 1)])).toBeNull();
  });
});
