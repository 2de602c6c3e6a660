// CPU time of the processes a bench drives, read from /proc: a process's user and system
// time with that of its children, live ones and those it has reaped (a PostgreSQL backend
// that closes moves its time into the postmaster's cutime/cstime, so nothing is lost).

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (100 on most Linux machines). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** One line of /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat, or null once it is gone. */
function readStatFile(path: string): { readonly comm: string; readonly fields: readonly string[] } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: read after its last ')'.
  // fields[0] is then field 3 (state): ppid is fields[1], utime..cstime are fields[11] to [14].
  return { comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), fields: text.slice(text.lastIndexOf(')') + 2).split(' ') };
}

/** utime + stime of a stat line, in ticks: for a process, every thread it has had; for a task, that thread. */
function ownTicks(fields: readonly string[]): number {
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime + cutime + cstime, in ticks. */
  readonly ticks: number;
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStatFile(`/proc/${name}/stat`);
    if (!stat) continue;
    const ticks = ownTicks(stat.fields) + Number(stat.fields[13] ?? 0) + Number(stat.fields[14] ?? 0);
    stats.push({ pid: Number(name), ppid: Number(stat.fields[1]), comm: stat.comm, ticks });
  }
  return stats;
}

/** The processes of each named tree (the root and every live descendant), from one listing of /proc. */
function trees(roots: Readonly<Record<string, number>>): Record<string, ProcStat[]> {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
  const found: Record<string, ProcStat[]> = {};
  for (const [name, pid] of Object.entries(roots)) {
    const members: ProcStat[] = [];
    const queue = byPid.has(pid) ? [byPid.get(pid) as ProcStat] : [];
    while (queue.length > 0) {
      const stat = queue.pop() as ProcStat;
      members.push(stat);
      queue.push(...(children.get(stat.pid) ?? []));
    }
    found[name] = members;
  }
  return found;
}

export interface ProcessSnapshot {
  /** CPU milliseconds of each named process tree (the process and every live descendant). */
  readonly cpu: Record<string, number>;
  /** For the trees asked for, the CPU milliseconds of each of its processes' main thread, by pid (see `threadSnapshot`). */
  readonly mainThreads: Record<string, Map<number, number>>;
}

/** Both, from one listing of /proc: each tree's CPU, and the main threads of the trees named in `threadsOf`. */
export function processSnapshot(roots: Readonly<Record<string, number>>, threadsOf: readonly string[] = []): ProcessSnapshot {
  const cpu: Record<string, number> = {};
  const mainThreads: Record<string, Map<number, number>> = {};
  for (const [name, members] of Object.entries(trees(roots))) {
    cpu[name] = (members.reduce((sum, stat) => sum + stat.ticks, 0) * 1000) / TICKS_PER_SECOND;
    if (!threadsOf.includes(name)) continue;
    mainThreads[name] = new Map(
      members.flatMap((stat) => {
        const threads = threadSnapshot(stat.pid);
        return threads ? [[stat.pid, threads.main] as const] : [];
      }),
    );
  }
  return { cpu, mainThreads };
}

/** CPU milliseconds of each named process tree (the process and every live descendant), read now. */
export function cpuSnapshot(roots: Readonly<Record<string, number>>): Record<string, number> {
  return processSnapshot(roots).cpu;
}

/** For each tree, what the busiest main thread among its processes spent between two snapshots, in milliseconds. */
export function mainThreadDelta(
  before: Readonly<Record<string, ReadonlyMap<number, number>>>,
  after: Readonly<Record<string, ReadonlyMap<number, number>>>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, threads] of Object.entries(after)) {
    let busiest = 0;
    for (const [pid, ms] of threads) busiest = Math.max(busiest, ms - (before[name]?.get(pid) ?? 0));
    delta[name] = busiest;
  }
  return delta;
}

/** The machine's CPU time from /proc/stat, every process's (ours or not), in milliseconds of all cores together. */
export function machineSnapshot(): { cores: number; busy: number; total: number } | null {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  // "cpu  user nice system idle iowait irq softirq steal ...": idle and iowait are the time no core worked.
  const fields = (lines[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const cores = lines.filter((line) => /^cpu\d+ /.test(line)).length;
  return { cores, busy: ((total - idle) * 1000) / TICKS_PER_SECOND, total: (total * 1000) / TICKS_PER_SECOND };
}

/**
 * CPU milliseconds of one process's threads, read now: `main`, the thread whose id is the
 * process's (a Node process's JavaScript and event loop), and `other`, every other thread it
 * has had (the garbage collector's helpers, libuv's pool, where WebCrypto's signature checks
 * run). Null once the process is gone.
 */
export function threadSnapshot(pid: number): { main: number; other: number } | null {
  // The process's own utime + stime count every thread, those that ended included, and none of
  // its children's; the task's count that one thread.
  const main = readStatFile(`/proc/${pid}/task/${pid}/stat`);
  const own = readStatFile(`/proc/${pid}/stat`);
  if (!main || !own) return null;
  const mainTicks = ownTicks(main.fields);
  return { main: (mainTicks * 1000) / TICKS_PER_SECOND, other: (Math.max(0, ownTicks(own.fields) - mainTicks) * 1000) / TICKS_PER_SECOND };
}

/** The children of `pid` whose command name is `comm` (e.g. the postmaster under the stack). */
export function childrenNamed(pid: number, comm: string): number[] {
  return allStats()
    .filter((stat) => stat.ppid === pid && stat.comm === comm)
    .map((stat) => stat.pid);
}

/** What each process spent between two snapshots, in milliseconds. */
export function cpuDelta(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((name) => [name, Math.max(0, (after[name] ?? 0) - (before[name] ?? 0))]));
}
