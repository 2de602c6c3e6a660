// The wallet client's credits against a real HTTP server that takes calls and never answers (a
// hung wallet): each caller's wait is bounded from the moment it asks, and a credit whose
// caller gave up while it was still queued is never sent, so retries do not pile up behind it.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Listening, listen } from '@giftpay/common';
import { waitUntil } from '@giftpay/testing/waits';
import { afterEach, describe, expect, it } from 'vitest';
import { createWalletClient } from '../src/wallet-client.ts';

const hanging: { listening: Listening; open: Set<ServerResponse> }[] = [];
afterEach(async () => {
  for (const { listening, open } of hanging.splice(0)) {
    for (const response of open) response.destroy();
    await listening.close();
  }
});

/** A wallet that reads every call and answers none; returns the credit keys of each call it got. */
async function hungWallet(): Promise<{ url: string; calls: string[][] }> {
  const calls: string[][] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    open.add(response);
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => calls.push((JSON.parse(body) as { credits: { idempotencyKey: string }[] }).credits.map((credit) => credit.idempotencyKey)));
  });
  const listening = await listen(server, 0, '127.0.0.1');
  hanging.push({ listening, open });
  return { url: listening.url, calls };
}

describe('credits to a hung wallet', () => {
  it('time out counted from when each is asked for, and those given up on while queued are never sent', async () => {
    const wallet = await hungWallet();
    const client = createWalletClient({ walletUrl: wallet.url, serviceToken: 't'.repeat(32), timeoutMs: 300 });
    const credit = (index: number) =>
      client.credit({ ownerId: `owner-${index}`, amountMinor: 10n, currencyCode: 'IRR', description: 'x', idempotencyKey: `key-${index}` }).then(
        () => 'answered',
        (error: Error) => error.message,
      );
    const answers = await Promise.all(Array.from({ length: 150 }, (_, index) => credit(index)));
    // Two batches go on their way (a call each), the rest queue behind them, 50 a batch; each
    // caller gave up within its own timeout, the queued ones included.
    expect(answers).toEqual(Array(150).fill(expect.stringMatching(/timed out after 300 ms$/)));
    await waitUntil('the first call to have been made', () => wallet.calls.length >= 1);
    // The calls on their way time out in turn (300 ms each), which frees their places; the
    // credits still queued then, whose callers had given up, are not sent. Their absence is
    // what is checked, so this waits past several call timeouts.
    await new Promise((done) => setTimeout(done, 1_500));
    const sent = wallet.calls.flat();
    expect(sent).toContain('key-0');
    expect(new Set(sent).size).toBeLessThan(150);
  });
});
