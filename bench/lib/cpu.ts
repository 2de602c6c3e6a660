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

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: read after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); ppid is field 4, utime..cstime are fields 14 to 17.
  const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
  return { pid, ppid: Number(fields[1]), ticks };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
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

/** CPU milliseconds of each named process tree (the process and every live descendant), read now. */
export function cpuSnapshot(roots: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(trees(roots)).map(([name, members]) => [name, (members.reduce((sum, stat) => sum + stat.ticks, 0) * 1000) / TICKS_PER_SECOND]),
  );
}

/**
 * CPU milliseconds of the main thread of every process of each named tree, by pid, read now
 * (see `threadSnapshot`). `mainThreadDelta` turns two of them into each tree's busiest main thread.
 */
export function mainThreadSnapshot(roots: Readonly<Record<string, number>>): Record<string, Map<number, number>> {
  const snapshot: Record<string, Map<number, number>> = {};
  for (const [name, members] of Object.entries(trees(roots))) {
    snapshot[name] = new Map(
      members.flatMap((stat) => {
        const threads = threadSnapshot(stat.pid);
        return threads ? [[stat.pid, threads.main] as const] : [];
      }),
    );
  }
  return snapshot;
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
  // utime + stime (fields 14 and 15): the process's own count every thread, those that ended
  // included, and none of its children's; the task's count that one thread.
  const ticks = (path: string) => {
    const text = readFileSync(path, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  };
  try {
    const main = ticks(`/proc/${pid}/task/${pid}/stat`);
    const own = ticks(`/proc/${pid}/stat`);
    return { main: (main * 1000) / TICKS_PER_SECOND, other: (Math.max(0, own - main) * 1000) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

/** The children of `pid` whose command name is `comm` (e.g. the postmaster under the stack). */
export function childrenNamed(pid: number, comm: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const command = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && command === comm) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** What each process spent between two snapshots, in milliseconds. */
export function cpuDelta(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((name) => [name, Math.max(0, (after[name] ?? 0) - (before[name] ?? 0))]));
}
