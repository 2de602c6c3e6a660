// The /proc readers behind the bench's CPU figures, on this very process: a main thread kept
// busy shows as main-thread time (as much as Node's own count of the thread says), work on
// libuv's pool as the other threads', and the machine's cores as busy. /proc counts in ticks
// of 10 ms, hence the margins.

import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { machineSnapshot, mainThreadDelta, processSnapshot, threadSnapshot } from '../lib/cpu.ts';

/**
 * Keeps this thread on the CPU until it has spent `ms` of CPU time, by Node's own count of
 * this thread (`process.threadCpuUsage`), however busy the machine is.
 */
function spin(ms: number): void {
  const start = process.threadCpuUsage();
  for (;;) {
    const spent = process.threadCpuUsage(start);
    if ((spent.user + spent.system) / 1000 >= ms) return;
  }
}

describe('the /proc readers', () => {
  // The bench reads CPU time from /proc, which only Linux has. Elsewhere these tests fail and
  // say why, rather than skip and leave the readers untested without a word.
  beforeAll(() => {
    if (process.platform !== 'linux') throw new Error(`the bench's CPU readers need Linux's /proc; this platform is ${process.platform}`);
  });

  it('count a busy main thread as main-thread time, not as other threads', () => {
    // These tests spin the thread they run on: it must be the process's main thread (vitest's forks pool).
    expect(isMainThread).toBe(true);
    const before = threadSnapshot(process.pid);
    spin(300);
    const after = threadSnapshot(process.pid);
    if (!before || !after) throw new Error('threadSnapshot read nothing');
    expect(after.main - before.main).toBeGreaterThanOrEqual(270);
    expect(after.other - before.other).toBeLessThan(100);
  });

  it("count libuv's pool as the other threads' time", async () => {
    const before = threadSnapshot(process.pid);
    // Each call runs on the pool: the main thread only waits.
    await Promise.all(Array.from({ length: 4 }, () => promisify(pbkdf2)('secret', 'salt', 100_000, 32, 'sha512')));
    const after = threadSnapshot(process.pid);
    if (!before || !after) throw new Error('threadSnapshot read nothing');
    expect(after.other - before.other).toBeGreaterThan(after.main - before.main);
  });

  it("give each tree its busiest main thread's time", () => {
    const before = processSnapshot({ self: process.pid }, ['self']).mainThreads;
    spin(300);
    const spent = mainThreadDelta(before, processSnapshot({ self: process.pid }, ['self']).mainThreads);
    expect(spent.self).toBeGreaterThanOrEqual(270);
    expect(mainThreadDelta({}, { gone: new Map() })).toEqual({ gone: 0 });
  });

  it("see the machine's cores busy while this process spins", () => {
    const before = machineSnapshot();
    spin(300);
    const after = machineSnapshot();
    if (!before || !after) throw new Error('machineSnapshot read nothing');
    expect(after.cores).toBeGreaterThanOrEqual(1);
    // At least this thread's 300 ms, over all cores together.
    expect(after.busy - before.busy).toBeGreaterThanOrEqual(270);
    expect(after.total - before.total).toBeGreaterThanOrEqual(after.busy - before.busy);
  });
});
