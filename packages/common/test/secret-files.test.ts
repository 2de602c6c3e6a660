// Secrets from files (Docker and Kubernetes secrets): X_FILE names a file holding X's value;
// X and X_FILE together, or a file that cannot be read, stop the service with a message
// naming the variable.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configErrorOf } from '@giftpay/testing/outcome';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withSecretFiles } from '../src/secret-files.ts';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'giftpay-secret-files-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

describe('withSecretFiles', () => {
  it('reads X from the file named by X_FILE, without its final newline', () => {
    const env = withSecretFiles({ INTERNAL_API_TOKEN_FILE: secretFile('token', 'from-the-file\n') }, ['INTERNAL_API_TOKEN']);
    expect(env.INTERNAL_API_TOKEN).toBe('from-the-file');
  });

  it('keeps the inner newlines of a multi-line secret such as a PEM key', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n';
    const env = withSecretFiles({ JWT_PRIVATE_KEY_FILE: secretFile('key.pem', pem) }, ['JWT_PRIVATE_KEY']);
    expect(env.JWT_PRIVATE_KEY).toBe(pem.slice(0, -1));
  });

  it('reads METRICS_TOKEN_FILE for every service, whatever secrets it names', () => {
    const env = withSecretFiles({ METRICS_TOKEN_FILE: secretFile('metrics', 'scrape-me') }, []);
    expect(env.METRICS_TOKEN).toBe('scrape-me');
  });

  it('leaves the environment as it is when no X_FILE is set, and ignores a blank one', () => {
    const given = { INTERNAL_API_TOKEN: 'direct', GIFT_CARD_CODE_KEY_FILE: '  ' };
    expect(withSecretFiles(given, ['INTERNAL_API_TOKEN', 'GIFT_CARD_CODE_KEY'])).toEqual(given);
  });

  it('ignores X_FILE for a variable that is not a secret of the service', () => {
    const env = withSecretFiles({ LOG_LEVEL_FILE: join(dir, 'absent') }, ['INTERNAL_API_TOKEN']);
    expect(env.LOG_LEVEL).toBeUndefined();
  });

  it('refuses X and X_FILE set together, naming both', () => {
    const error = configErrorOf(() =>
      withSecretFiles({ GIFT_CARD_CODE_KEY: 'direct', GIFT_CARD_CODE_KEY_FILE: secretFile('key', 'file') }, ['GIFT_CARD_CODE_KEY']),
    );
    expect(error.variable).toBe('GIFT_CARD_CODE_KEY_FILE');
    expect(error.message).toBe('Invalid configuration: GIFT_CARD_CODE_KEY_FILE and GIFT_CARD_CODE_KEY are both set: set only one of them');
  });

  it('refuses a file that does not exist, naming the variable and the path', () => {
    const path = join(dir, 'missing');
    const error = configErrorOf(() => withSecretFiles({ DATABASE_URL_FILE: path }, ['DATABASE_URL']));
    expect(error.variable).toBe('DATABASE_URL_FILE');
    expect(error.message).toBe(`Invalid configuration: DATABASE_URL_FILE must name a readable file, got "${path}" (ENOENT)`);
  });

  it('refuses a path that is a folder, naming the variable and the path', () => {
    const error = configErrorOf(() => withSecretFiles({ INTERNAL_API_TOKEN_FILE: dir }, ['INTERNAL_API_TOKEN']));
    expect(error.variable).toBe('INTERNAL_API_TOKEN_FILE');
    expect(error.message).toContain(`"${dir}" (EISDIR)`);
  });

  it('refuses an empty file, naming the variable, the path and what it should hold', () => {
    const path = secretFile('empty', '\n');
    const error = configErrorOf(() => withSecretFiles({ BOOTSTRAP_ADMIN_PASSWORD_FILE: path }, ['BOOTSTRAP_ADMIN_PASSWORD']));
    expect(error.variable).toBe('BOOTSTRAP_ADMIN_PASSWORD_FILE');
    expect(error.message).toBe(
      `Invalid configuration: BOOTSTRAP_ADMIN_PASSWORD_FILE must name a file holding the value of BOOTSTRAP_ADMIN_PASSWORD, got the empty file "${path}"`,
    );
  });

  it('does not change the environment it was given', () => {
    const given = { INTERNAL_API_TOKEN_FILE: secretFile('token', 'value') };
    withSecretFiles(given, ['INTERNAL_API_TOKEN']);
    expect(given).toEqual({ INTERNAL_API_TOKEN_FILE: given.INTERNAL_API_TOKEN_FILE });
  });
});
