// What the services' logger writes: tokens, passwords and gift-card codes are redacted
// wherever a logged object carries them, at the top or one level down; what is not secret
// (a SQLSTATE in err.code, a request id) stays readable.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { captureLogs } from '@giftpay/testing';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

const TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2VjcmV0LXNpZ25hdHVyZQ';
const PASSWORD = 'correct-horse-battery-staple';
const CODE = 'ABCDE-FGHJK-LMNPQ-RSTUV';

function logged(write: (logger: ReturnType<typeof createLogger>) => void): { text: string; line: Record<string, unknown> } {
  const logger = createLogger('test', 'info');
  const capture = captureLogs([logger], 'info');
  try {
    write(logger);
  } finally {
    capture.stop();
  }
  const [line] = capture.lines();
  if (!line) throw new Error('nothing was logged');
  return { text: capture.text(), line };
}

describe('createLogger redacts', () => {
  it.each([
    ['an authorization header', { authorization: `Bearer ${TOKEN}` }],
    ['request headers', { headers: { authorization: `Bearer ${TOKEN}`, 'x-request-id': 'r-1' } }],
    ["a request's headers", { req: { headers: { authorization: `Bearer ${TOKEN}` } } }],
    ['the service credential in headers', { headers: { 'x-giftpay-service-token': TOKEN } }],
    ["the service credential in a request's headers", { req: { headers: { 'x-giftpay-service-token': TOKEN } } }],
    ["the gateway's credential in headers", { headers: { 'x-giftpay-gateway-token': TOKEN } }],
    ["the gateway's credential in a request's headers", { req: { headers: { 'x-giftpay-gateway-token': TOKEN } } }],
    ['a token', { token: TOKEN }],
    ['a token one level down', { auth: { token: TOKEN } }],
    ['a password', { password: PASSWORD }],
    ['a password one level down', { input: { password: PASSWORD } }],
    ['a code in an input', { input: { code: CODE } }],
    ['a code in the variables', { variables: { code: CODE } }],
    ['a code in the variables input', { variables: { input: { code: CODE } } }],
    ['a password in the variables input', { variables: { input: { password: PASSWORD } } }],
  ])('%s', (_name, fields) => {
    const { text } = logged((logger) => logger.info(fields, 'something happened'));
    expect(text).toContain('[redacted]');
    for (const secret of [TOKEN, PASSWORD, CODE]) expect(text).not.toContain(secret);
  });

  it('and keeps what is not secret readable', () => {
    const error = Object.assign(new Error('duplicate key'), { code: '23505' });
    const { line } = logged((logger) => logger.error({ err: error, requestId: 'req-42', username: 'alice' }, 'unexpected error'));
    expect(line).toMatchObject({ msg: 'unexpected error', requestId: 'req-42', username: 'alice', err: { code: '23505', message: 'duplicate key' } });
  });
});

describe('a process that logs', () => {
  // Under `pnpm start` a service's stdout is a socket to its supervisor; when the supervisor is
  // killed, the service stops by itself and exits with log lines still buffered. Flushing them
  // into a socket nobody reads failed with EPIPE, which sonic-boom 4.2.1 (pino's destination)
  // retried every 100 ms for ever: the process never ended (patches/sonic-boom@4.2.1.patch).
  it('exits when whoever read its output has gone', async () => {
    const script = `
      import { createLogger } from './src/logger.ts';
      const logger = createLogger('test', 'info');
      setTimeout(() => {
        for (let line = 0; line < 3; line++) logger.info({ line }, 'stopping');
        process.exit(0);
      }, 500);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir, stdio: ['ignore', 'pipe', 'ignore'] });
    // Our end of its stdout closed: every write of the child now fails with EPIPE.
    child.stdout.destroy();
    const exited = new Promise<string>((done) => child.once('exit', (code, signal) => done(`${code}/${signal}`)));
    const hung = new Promise<string>((done) => setTimeout(() => done('still running after 10 s'), 10_000).unref());
    try {
      expect(await Promise.race([exited, hung])).toMatch(/^\d+\/null$/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 20_000);
});
