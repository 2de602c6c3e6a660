// Where `giftpay login` keeps the session: $XDG_CONFIG_HOME/giftpay/credentials.json (else
// ~/.config/giftpay/credentials.json), readable by its owner alone (the folder 700, the file
// 600), written whole through a temporary file so a crash never leaves half a token.

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LoginRequiredError } from './errors.ts';

export const DEFAULT_URL = 'http://localhost:4000/graphql';

export interface Credentials {
  /** The gateway's GraphQL endpoint the token was issued through. */
  readonly url: string;
  readonly username: string;
  readonly roles: readonly string[];
  readonly token: string;
  /** ISO instant. */
  readonly expiresAt: string;
}

export function configDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(homedir(), '.config');
  return join(base, 'giftpay');
}

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  return join(configDir(env), 'credentials.json');
}

export function readCredentials(env: NodeJS.ProcessEnv): Credentials | null {
  let text: string;
  try {
    text = readFileSync(credentialsPath(env), 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Partial<Credentials>;
    if (typeof parsed.url !== 'string' || typeof parsed.token !== 'string' || typeof parsed.expiresAt !== 'string') return null;
    return { url: parsed.url, username: String(parsed.username ?? ''), roles: parsed.roles ?? [], token: parsed.token, expiresAt: parsed.expiresAt };
  } catch {
    return null;
  }
}

export function writeCredentials(env: NodeJS.ProcessEnv, credentials: Credentials): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to a folder it creates: one that was already there is made
  // the owner's alone too.
  chmodSync(dir, 0o700);
  const path = credentialsPath(env);
  // A name nobody can guess, created new ('wx' refuses a file or a link already there), so
  // nothing planted beside the session can catch or redirect the token.
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(temporary, 0o600); // the umask may have taken bits off, never added: make sure
  renameSync(temporary, path);
  return path;
}

export function removeCredentials(env: NodeJS.ProcessEnv): boolean {
  const path = credentialsPath(env);
  const existed = readCredentials(env) !== null;
  rmSync(path, { force: true });
  return existed;
}

/**
 * The session for the gateway at `url` (or the one logged in to when no URL is asked for),
 * refused with what to run when there is none, it has expired, or it is for another gateway.
 */
export function requireSession(env: NodeJS.ProcessEnv, url: string | undefined, now = new Date()): Credentials {
  const credentials = readCredentials(env);
  if (!credentials) throw new LoginRequiredError('Not logged in: run `pnpm giftpay login` first.');
  if (url && url !== credentials.url) {
    throw new LoginRequiredError(`Logged in to ${credentials.url}, not ${url}: run \`pnpm giftpay login --url ${url}\`.`);
  }
  if (Date.parse(credentials.expiresAt) <= now.getTime()) {
    throw new LoginRequiredError(`The session of ${credentials.username} expired at ${credentials.expiresAt}: run \`pnpm giftpay login\`.`);
  }
  return credentials;
}
