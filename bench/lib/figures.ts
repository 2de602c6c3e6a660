// What one scenario measured on one path, and the CPU it cost each process. Every scenario
// module returns these; the report and latest.json are made of them.

import { cpuDelta, cpuSnapshot } from './cpu.ts';
import { type Burst, countBy, latencySummary } from './load.ts';

export type ScenarioId = 'flash' | 'walletRead' | 'spend' | 'shards';
export type PathId = 'giftpay' | 'hive' | 'direct' | 'database';

export const PATH_LABELS: Record<PathId, string> = {
  giftpay: "GiftPay's gateway",
  hive: 'Hive Gateway',
  direct: 'subgraph, straight',
  database: 'claim statement alone',
};

export const SCENARIO_LABELS: Record<ScenarioId, string> = {
  flash: 'flash promotion',
  walletRead: 'wallet read',
  spend: 'spend (idempotent debits)',
  shards: 'flash promotion by slot shards (K counter rows)',
};

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Latency {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface FlashFigures {
  readonly slots: number;
  /** K: the counter rows the card's slots were split over (1: the card's own row). */
  readonly slotShards?: number;
  readonly users: number;
  readonly winners: number;
  /** From the first request sent to the last winner's answer. */
  readonly fillSeconds: number | null;
  readonly winnersLatencyMs: { readonly p50: number | null; readonly p99: number | null };
  /** Winners whose answer said PENDING (the credit was not confirmed in the request). */
  readonly pendingShare: number | null;
  /** Of the winners, how many were among the first `slots` requests sent. */
  readonly winnersAmongFirstN: number;
  readonly winnersAmongFirstNShare: number | null;
  /** 1-based send position of the last-sent request that still won. */
  readonly latestWinningPosition: number | null;
  /** From the claim to the wallet's confirmation, from the database's timestamps. */
  readonly claimToCreditMs?: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null };
}

export interface PathFigures {
  readonly scenario: ScenarioId;
  readonly path: PathId;
  readonly label: string;
  readonly requests: number;
  /** Never sent: the scenario's deadline passed first. */
  readonly unsent: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: Latency;
  /** The five slowest requests: when they were sent (ms from the start), how long they took, what they were answered. */
  readonly slowest: readonly { readonly position: number; readonly sentMs: number; readonly ms: number; readonly outcome: string }[];
  /** Every answer by its outcome (OK, a status, or an error code). */
  readonly outcomes: Readonly<Record<string, number>>;
  /** The answers this scenario does not expect, by code. */
  readonly errors: Readonly<Record<string, number>>;
  /** CPU milliseconds per request of each process, `all` (every server process) and `client` (the load generator). */
  readonly cpuMsPerRequest: Readonly<Record<string, number>>;
  readonly flash?: FlashFigures;
  readonly checks: readonly Check[];
  readonly exact: boolean;
}

/** Processes whose CPU is read around every measured burst. */
export interface CpuProbe {
  roots(): Record<string, number>;
}

export interface Measured<T> {
  readonly value: T;
  readonly cpuMs: Record<string, number>;
}

/** Runs `work` and says what CPU each process (and this one, as `client`) spent meanwhile. */
export async function measureCpu<T>(probe: CpuProbe, work: () => Promise<T>): Promise<Measured<T>> {
  const roots = probe.roots();
  const before = cpuSnapshot(roots);
  const clientBefore = process.cpuUsage();
  const value = await work();
  const client = process.cpuUsage(clientBefore);
  const cpuMs = cpuDelta(before, cpuSnapshot(roots));
  cpuMs.client = (client.user + client.system) / 1000;
  return { value, cpuMs };
}

export function perRequest(cpuMs: Readonly<Record<string, number>>, requests: number): Record<string, number> {
  const per: Record<string, number> = {};
  let all = 0;
  for (const [name, ms] of Object.entries(cpuMs)) {
    per[name] = round(ms / Math.max(1, requests), 3);
    if (name !== 'client') all += ms;
  }
  per.all = round(all / Math.max(1, requests), 3);
  return per;
}

/** The processes that run their JavaScript on one thread (PostgreSQL has a process a connection). */
const ONE_THREAD_PROCESSES = ['gateway', 'hive-gateway', 'gift-cards', 'wallet', 'accounts', 'client'] as const;

/**
 * The busiest of the one-thread processes over a burst, in cores: its CPU time over the
 * burst's time (its CPU a request times the requests a second). Near 1, that process sets
 * the path's pace, whatever the others could still do. Its garbage collector's helper threads
 * count too, so it can pass 1 a little. Null when no such process took part.
 */
export function busiestProcess(row: Pick<PathFigures, 'cpuMsPerRequest' | 'requests' | 'seconds'>): { name: string; cores: number } | null {
  if (row.seconds <= 0) return null;
  let busiest: { name: string; cores: number } | null = null;
  for (const name of ONE_THREAD_PROCESSES) {
    const perRequest = row.cpuMsPerRequest[name];
    if (perRequest === undefined) continue;
    const cores = (perRequest * row.requests) / (row.seconds * 1000);
    if (!busiest || cores > busiest.cores) busiest = { name, cores };
  }
  return busiest && { name: busiest.name, cores: round(busiest.cores, 2) };
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function check(name: string, ok: boolean, detail: string): Check {
  return { name, ok, detail };
}

/** The figures every scenario shares, from a burst and the CPU it cost. */
export function burstFigures<T>(
  scenario: ScenarioId,
  path: PathId,
  concurrency: number,
  burst: Burst<T>,
  cpuMs: Readonly<Record<string, number>>,
  expected: (outcome: string) => boolean,
): Omit<PathFigures, 'checks' | 'exact' | 'flash'> {
  const outcomes = countBy(burst.samples, (sample) => sample.outcome);
  const errors = Object.fromEntries(Object.entries(outcomes).filter(([outcome]) => !expected(outcome)));
  return {
    scenario,
    path,
    label: PATH_LABELS[path],
    requests: burst.samples.length,
    unsent: burst.unsent,
    concurrency,
    seconds: round(burst.seconds, 2),
    requestsPerSecond: round(burst.samples.length / Math.max(burst.seconds, 0.001), 0),
    latencyMs: latencySummary(burst.samples.map((sample) => sample.ms)),
    slowest: [...burst.samples]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5)
      .map((sample) => ({ position: sample.position, sentMs: Math.round(sample.sentMs), ms: Math.round(sample.ms), outcome: sample.outcome })),
    outcomes,
    errors,
    cpuMsPerRequest: perRequest(cpuMs, burst.samples.length),
  };
}
