// A GiftPay database pool whose backends are terminated again and again under load (what a
// failover, a PostgreSQL restart or a proxy's idle timeout does), in a process of its own.
// postgres.js 3.4.9 unpatched crashes that process (an unhandled 57P01 rejection, or a
// TypeError on a null socket), leaves queries pending forever, or stops writing on a
// reconnected connection until CONNECT_TIMEOUT; patches/postgres@3.4.9.patch fixes all three.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '@giftpay/testing';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/connection-loss.ts', import.meta.url));

describe('a pool whose connections are terminated under load', () => {
  it('keeps the process alive, settles every query, and serves again by itself', async () => {
    const database = await createTestDatabase();
    const run = spawnSync(process.execPath, [fixture], {
      env: { ...process.env, TEST_DATABASE_URL: database.url, KILL_FOR_MS: '4000' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}');
    // The fault happened, many times, and queries felt it.
    expect(report.terminated).toBeGreaterThan(20);
    expect(Object.keys(report.outcomes).filter((code) => code !== 'ok').length).toBeGreaterThan(0);
    // No crash, no hang, nothing unhandled; and afterwards the pool is whole again.
    expect(report).toMatchObject({ settled: true, recovered: true, unhandled: 0 });
    // Between the kills the pool kept serving (how much depends on the machine's load).
    expect(report.outcomes.ok).toBeGreaterThan(0);
    expect(report.outcomes.CONNECT_TIMEOUT ?? 0).toBe(0);
  });
});
