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

/** CPU milliseconds of each named process tree (the process and every live descendant), read now. */
export function cpuSnapshot(roots: Readonly<Record<string, number>>): Record<string, number> {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
  const snapshot: Record<string, number> = {};
  for (const [name, pid] of Object.entries(roots)) {
    let ticks = 0;
    const queue = byPid.has(pid) ? [byPid.get(pid) as ProcStat] : [];
    while (queue.length > 0) {
      const stat = queue.pop() as ProcStat;
      ticks += stat.ticks;
      queue.push(...(children.get(stat.pid) ?? []));
    }
    snapshot[name] = (ticks * 1000) / TICKS_PER_SECOND;
  }
  return snapshot;
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
