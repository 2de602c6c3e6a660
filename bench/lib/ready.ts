// Waiting for a process the bench spawned (a peer gateway, a service from another checkout) to
// answer its readiness URL, giving up when it exits or the time runs out.

import type { ChildProcess } from 'node:child_process';

export async function untilReady(label: string, url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`${label} was not ready within ${Math.round(timeoutMs / 1000)} s`);
}
