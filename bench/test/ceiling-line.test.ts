// The report's line on the flash against the database ceiling: the measured ratio, then what
// the cores shared by every path allow, from each path's CPU a request with the load
// generator's: when the two meet, the cores set the pace, not the database.

import { describe, expect, it } from 'vitest';
import type { PathFigures } from '../lib/figures.ts';
import { ceilingLine } from '../lib/report.ts';

function row(requestsPerSecond: number, cpuMsPerRequest: Record<string, number>, machine: PathFigures['machine']): PathFigures {
  return { requestsPerSecond, cpuMsPerRequest, machine } as unknown as PathFigures;
}

describe('ceilingLine', () => {
  it('gives the measured ratio, then the ratio the cores allow from the CPU a request of each path', () => {
    const gateway = row(1360, { all: 1.13, client: 0.13 }, { cores: 2, busyShare: 0.86 });
    const ceiling = row(10915, { all: 0.11, client: 0.04 }, { cores: 2, busyShare: 0.86 });
    const direct = row(2463, { all: 0.52, client: 0.13 }, { cores: 2, busyShare: 0.83 });
    expect(ceilingLine(gateway, ceiling, direct)).toBe(
      "GiftPay's gateway ran the flash at 12% of the database ceiling and at 55% of the subgraph straight. " +
        'With the load generator, a request through the gateway took 1.26 ms of CPU and a claim alone 0.15 ms, 8.4 times as much; ' +
        "on the cores they share (86% and 86% busy) that allows the gateway's path 12% of the ceiling.",
    );
  });

  it('weighs each path by how busy the cores were over its own burst', () => {
    // The same CPU a request, the cores half as busy over the gateway's burst: half the share.
    const gateway = row(500, { all: 0.9, client: 0.1 }, { cores: 2, busyShare: 0.45 });
    const ceiling = row(9000, { all: 0.1, client: 0.0 }, { cores: 2, busyShare: 0.9 });
    expect(ceilingLine(gateway, ceiling)).toMatch(
      /10\.0 times as much; on the cores they share \(45% and 90% busy\) that allows the gateway's path 5% of the ceiling\.$/,
    );
  });

  it('gives the measured ratio alone when the cores could not be read or a CPU figure is missing', () => {
    const ceiling = row(8000, { all: 0.1, client: 0.05 }, { cores: 2, busyShare: 0.9 });
    expect(ceilingLine(row(1000, { all: 1, client: 0.1 }, null), ceiling)).toBe("GiftPay's gateway ran the flash at 13% of the database ceiling.");
    expect(ceilingLine(row(1000, {}, { cores: 2, busyShare: 0.9 }), ceiling)).toBe("GiftPay's gateway ran the flash at 13% of the database ceiling.");
  });
});
