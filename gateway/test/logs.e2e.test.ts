// What the logs keep of real requests: every service logs at its most verbose level while a
// user signs up, logs in (wrongly, then rightly), reads their account, sends a token where it
// does not belong, and activates gift cards (a wrong code, and one whose wallet credit fails);
// no password, token, gift-card code or service secret appears in any line written, while the
// requests themselves, and the failed credit, are there to read.

import { randomBytes } from 'node:crypto';
import { ADMIN_PASSWORD, captureLogs, createTestDatabase, type Stack, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url, faultyWalletLink: true });
});

afterAll(async () => {
  await stack?.close();
});

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { id status } } }';

function loggersOf(running: Stack) {
  return [running.gateway.server.logger, running.accounts.server.logger, running.wallet.server.logger, running.giftCards.server.logger];
}

describe('the logs of real requests', () => {
  it("keep every password, token, gift-card code and service secret out of every service's log, and keep the requests", async () => {
    const suffix = randomBytes(4).toString('hex');
    const username = `logged_${suffix}`;
    const password = `pw-right-${randomBytes(8).toString('hex')}`;
    const wrongPassword = `pw-wrong-${randomBytes(8).toString('hex')}`;
    const wrongCode = `QQQQQ-${suffix.toUpperCase()}-WWWWW`;
    const { code } = await stack.issueGiftCard({ amount: '777' });
    const { code: second } = await stack.issueGiftCard({ amount: '888' });
    const admin = await stack.logInAdmin();
    const link = stack.walletLink;
    if (!link) throw new Error('the stack has no wallet link');

    const capture = captureLogs(loggersOf(stack));
    let token = '';
    try {
      const signUp = await stack.graphql<{ signUp: { token: string } }>('mutation ($input: SignUpInput!) { signUp(input: $input) { token } }', {
        variables: { input: { username, password } },
        headers: { 'x-request-id': `logs-sign-up-${suffix}` },
      });
      expect(signUp.errors).toBeUndefined();
      const logIn = (attempt: string) =>
        stack.graphql<{ logIn: { token: string } }>('mutation ($input: LogInInput!) { logIn(input: $input) { token } }', {
          variables: { input: { username, password: attempt } },
        });
      expect((await logIn(wrongPassword)).errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
      token = (await logIn(password)).data?.logIn.token as string;
      expect(token).toBeTruthy();

      const me = await stack.graphql<{ me: { username: string } }>('{ me { username wallet { balance { amount } } } }', {
        token,
        headers: { 'x-request-id': `logs-me-${suffix}` },
      });
      expect(me.data?.me.username).toBe(username);
      const inUrl = await fetch(`${stack.gatewayUrl}/graphql?access_token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      expect(inUrl.status).toBe(401);
      const malformed = await stack.graphql('{ me { id } }', { headers: { authorization: `Bearer ${token} ${token}` } });
      expect(malformed.status).toBe(401);

      const wrong = await stack.graphql(ACTIVATE, { token, variables: { code: wrongCode } });
      expect(wrong.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_NOT_FOUND');
      link.mode = 'refuse';
      try {
        const pending = await stack.graphql<{ activateGiftCard: { redemption: { status: string } } }>(ACTIVATE, {
          token,
          variables: { code },
          headers: { 'x-request-id': `logs-activate-${suffix}` },
        });
        expect(pending.data?.activateGiftCard.redemption.status).toBe('PENDING');
      } finally {
        link.mode = 'pass';
      }
      // And one credited at once: gift-cards calls the wallet with the service credential.
      const credited = await stack.graphql<{ activateGiftCard: { redemption: { status: string } } }>(ACTIVATE, {
        token,
        variables: { code: second },
        headers: { 'x-request-id': `logs-credit-${suffix}` },
      });
      expect(credited.data?.activateGiftCard.redemption.status).toBe('CREDITED');

      // The requests are in the logs: each service's access line, and the credit that failed.
      await capture.waitFor((line) => line.service === 'gateway' && line.msg === 'request' && line.requestId === `logs-me-${suffix}`);
      await capture.waitFor((line) => line.service === 'accounts' && line.msg === 'request' && line.requestId === `logs-sign-up-${suffix}`);
      await capture.waitFor((line) => line.service === 'wallet' && line.msg === 'request' && line.requestId === `logs-me-${suffix}`);
      await capture.waitFor((line) => line.service === 'gift-cards' && line.msg === 'request' && line.requestId === `logs-activate-${suffix}`);
      await capture.waitFor((line) => line.service === 'gift-cards' && line.level === 40 && typeof line.err === 'object');
      await capture.waitFor((line) => line.service === 'wallet' && line.msg === 'request' && line.path === '/internal/credit-batches' && line.status === 200);
      // The credit left in a batch: the wallet's line for the batch names the activation's request.
      await capture.waitFor(
        (line) =>
          line.service === 'wallet' && line.msg === 'credit batch' && Array.isArray(line.requestIds) && line.requestIds.includes(`logs-credit-${suffix}`),
      );
    } finally {
      capture.stop();
    }
    const text = capture.text();

    const secrets: Record<string, string> = {
      'the password': password,
      'a wrong password': wrongPassword,
      "the admin's password": ADMIN_PASSWORD,
      'the token': token,
      "the token's signature": token.split('.')[2] as string,
      "the admin's token": admin.token,
      'the gift-card code': code,
      'the gift-card code without dashes': code.replaceAll('-', ''),
      'the gift-card code in lower case': code.toLowerCase(),
      'the second gift-card code': second,
      'a wrong code': wrongCode,
      'the service credential': String(stack.env.INTERNAL_API_TOKEN),
      'the gift-card code key': String(stack.env.GIFT_CARD_CODE_KEY),
      'the signing key': String(stack.env.JWT_PRIVATE_KEY).split('\n')[1] as string,
    };
    expect(text.length).toBeGreaterThan(0);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThan(8);
      expect(text.includes(secret), `${name} is in the logs`).toBe(false);
    }
  });
});
