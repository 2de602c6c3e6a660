// Waiting on a condition instead of sleeping a fixed time: poll until it holds, with a
// deadline that names what never happened. One helper for every test that waits on
// processes, relays, locks or health checks.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Give up after this long (20 s unless told). */
  readonly timeoutMs?: number;
  /** Between two probes (50 ms unless told). */
  readonly intervalMs?: number;
  /** Count a probe that throws (a refused connection, a server still starting) as "not yet". */
  readonly ignoreErrors?: boolean;
}

/** Polls `probe` until it returns something truthy; throws after `timeoutMs` with `what` and the last value seen. */
export async function waitUntil<T>(what: string, probe: () => Promise<T> | T, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await probe();
    } catch (error) {
      if (!options.ignoreErrors) throw error;
      value = undefined;
    }
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms (last seen: ${String(value)})`);
    await sleep(options.intervalMs ?? 50);
  }
}

/** Like waitUntil, and says how long the wait took, in milliseconds. */
export async function timeUntil(what: string, probe: () => Promise<unknown> | unknown, options: WaitOptions = {}): Promise<number> {
  const started = Date.now();
  await waitUntil(what, probe, options);
  return Date.now() - started;
}
