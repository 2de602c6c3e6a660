// What one scenario measured on one path, and the CPU it cost each process. Every scenario
// module returns these; the report and latest.json are made of them.

import { cpuDelta, machineSnapshot, mainThreadDelta, processSnapshot, threadSnapshot } from './cpu.ts';
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
  /** Of that, what each Node process's main thread spent (its JavaScript and event loop), per request. */
  readonly mainThreadMsPerRequest: Readonly<Record<string, number>>;
  /** The machine's cores and the share of them busy over the burst, whoever kept them busy; null where /proc/stat cannot be read. */
  readonly machine: { readonly cores: number; readonly busyShare: number } | null;
  readonly flash?: FlashFigures;
  readonly checks: readonly Check[];
  readonly exact: boolean;
}

/** Processes whose CPU is read around every measured burst. */
export interface CpuProbe {
  roots(): Record<string, number>;
}

/** What a burst cost: each process's CPU, its main thread's, and the machine's. */
export interface CpuSpent {
  /** CPU milliseconds of each process tree, and of this one as `client`. */
  readonly cpuMs: Record<string, number>;
  /** CPU milliseconds of the main thread of each Node process (the busiest of its tree), and of this one as `client`. */
  readonly mainThreadMs: Record<string, number>;
  readonly machine: { readonly cores: number; readonly busyShare: number } | null;
}

export interface Measured<T> extends CpuSpent {
  readonly value: T;
}

/** Runs `work` and says what CPU each process (and this one, as `client`) spent meanwhile, and how busy the machine was. */
export async function measureCpu<T>(probe: CpuProbe, work: () => Promise<T>): Promise<Measured<T>> {
  const roots = probe.roots();
  const before = processSnapshot(roots, ONE_THREAD_PROCESSES);
  const clientThreadBefore = threadSnapshot(process.pid);
  const machineBefore = machineSnapshot();
  const clientBefore = process.cpuUsage();
  const value = await work();
  const client = process.cpuUsage(clientBefore);
  const machineAfter = machineSnapshot();
  const clientThreadAfter = threadSnapshot(process.pid);
  const after = processSnapshot(roots, ONE_THREAD_PROCESSES);
  const cpuMs = cpuDelta(before.cpu, after.cpu);
  cpuMs.client = (client.user + client.system) / 1000;
  const mainThreadMs = mainThreadDelta(before.mainThreads, after.mainThreads);
  if (clientThreadBefore && clientThreadAfter) mainThreadMs.client = clientThreadAfter.main - clientThreadBefore.main;
  const machine =
    machineBefore && machineAfter && machineAfter.total > machineBefore.total
      ? { cores: machineAfter.cores, busyShare: round((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total), 3) }
      : null;
  return { value, cpuMs, mainThreadMs, machine };
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

/** The Node processes, which run their JavaScript on one thread (PostgreSQL has a process a connection). */
const ONE_THREAD_PROCESSES = ['gateway', 'hive-gateway', 'gift-cards', 'wallet', 'accounts', 'client'] as const;

/**
 * The busiest JavaScript thread over a burst: of the Node processes, the one whose main
 * thread kept the most of a core busy (its CPU a request times the requests a second), with
 * what its whole process kept busy (the garbage collector's helper threads and libuv's pool,
 * where WebCrypto checks signatures, as well). Only a main thread near 1 sets the path's
 * pace; a process can pass 1 with its main thread well below. Null when no such process took
 * part or the burst took no time.
 */
export function busiestThread(
  row: Pick<PathFigures, 'cpuMsPerRequest' | 'mainThreadMsPerRequest' | 'requests' | 'seconds'>,
): { name: string; cores: number; processCores: number } | null {
  if (row.seconds <= 0) return null;
  const cores = (perRequest: number) => (perRequest * row.requests) / (row.seconds * 1000);
  let busiest: { name: string; cores: number; processCores: number } | null = null;
  for (const name of ONE_THREAD_PROCESSES) {
    const main = row.mainThreadMsPerRequest[name];
    if (main === undefined) continue;
    const candidate = { name, cores: cores(main), processCores: cores(row.cpuMsPerRequest[name] ?? main) };
    if (!busiest || candidate.cores > busiest.cores) busiest = candidate;
  }
  return busiest && { name: busiest.name, cores: round(busiest.cores, 2), processCores: round(busiest.processCores, 2) };
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
  spent: CpuSpent,
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
    cpuMsPerRequest: perRequest(spent.cpuMs, burst.samples.length),
    mainThreadMsPerRequest: Object.fromEntries(
      Object.entries(spent.mainThreadMs).map(([name, ms]) => [name, round(ms / Math.max(1, burst.samples.length), 3)]),
    ),
    machine: spent.machine,
  };
}
