// Where `giftpay login` keeps the session: the owner's alone, even in a folder that was there
// before with looser rights, written through a temporary file nobody can guess or plant.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Credentials, credentialsPath, readCredentials, writeCredentials } from '../src/credentials.ts';

const session: Credentials = {
  url: 'http://localhost:4000/graphql',
  username: 'alice',
  roles: ['user'],
  token: 'header.payload.signature',
  expiresAt: '2099-01-01T00:00:00.000Z',
};

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

function freshHome(): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'giftpay-cli-credentials-'));
  homes.push(home);
  return { XDG_CONFIG_HOME: home };
}

describe('the saved session', () => {
  it('is readable by its owner alone, in a folder made the owner’s alone even when it was there before with looser rights', () => {
    const env = freshHome();
    const folder = join(env.XDG_CONFIG_HOME as string, 'giftpay');
    mkdirSync(folder, { mode: 0o777 });
    const path = writeCredentials(env, session);
    expect(path).toBe(credentialsPath(env));
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readCredentials(env)).toEqual(session);
  });

  it('is written through a temporary file of its own, never through a file or a link planted at a name one could guess', () => {
    const env = freshHome();
    const folder = join(env.XDG_CONFIG_HOME as string, 'giftpay');
    mkdirSync(folder, { mode: 0o700 });
    // What the old predictable name (credentials.json.<pid>.tmp) would have written through.
    const stolen = join(env.XDG_CONFIG_HOME as string, 'stolen');
    writeFileSync(stolen, '');
    symlinkSync(stolen, `${credentialsPath(env)}.${process.pid}.tmp`);
    writeCredentials(env, session);
    expect(readFileSync(stolen, 'utf8')).toBe('');
    expect(readCredentials(env)).toEqual(session);
    // No temporary file of its own is left behind.
    expect(readdirSync(folder).sort()).toEqual([`credentials.json.${process.pid}.tmp`, 'credentials.json'].sort());
  });
});
