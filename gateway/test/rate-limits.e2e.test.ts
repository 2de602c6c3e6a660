// Guessing must not pay: failed activations and failed log-ins are limited per user (or
// username) and per client address, in state all replicas share, whatever the shape of the
// request, and answered RATE_LIMITED with retryAfterSeconds.

import { listen } from '@giftpay/common';
import { createServer as createGateway } from '@giftpay/gateway';
import { loadConfig as loadGatewayConfig } from '@giftpay/gateway/config';
import { createServer as createGiftCards } from '@giftpay/gift-cards';
import { loadConfig as loadGiftCardsConfig } from '@giftpay/gift-cards/config';
import { createTestDatabase, type Stack, startStack, type TestDatabase } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({
    databaseUrl: database.url,
    env: { FAILED_ACTIVATIONS_PER_USER: '5', FAILED_ACTIVATIONS_PER_ADDRESS: '40', FAILED_LOGINS_PER_USERNAME: '4', FAILED_LOGINS_PER_ADDRESS: '1000' },
  });
});

afterAll(async () => {
  await stack?.close();
});

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } } }';

async function issueCode(): Promise<string> {
  return (await stack.issueGiftCard({ amount: '10' })).code;
}

function codes(result: { errors?: { extensions?: Record<string, unknown> }[] | undefined }): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}

describe('failed activations', () => {
  it('answers RATE_LIMITED with retryAfterSeconds after too many wrong codes, and then refuses even a right one', async () => {
    const user = await stack.signUp();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const result = await stack.graphql(ACTIVATE, { token: user.token, variables: { code: `WRONG-${attempt}-CODE` } });
      expect(codes(result)).toEqual(['GIFT_CARD_NOT_FOUND']);
    }
    const limited = await stack.graphql(ACTIVATE, { token: user.token, variables: { code: 'WRONG-AGAIN' } });
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    const retryAfter = limited.errors?.[0]?.extensions?.retryAfterSeconds;
    expect(typeof retryAfter).toBe('number');
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
    const valid = await stack.graphql(ACTIVATE, { token: user.token, variables: { code: await issueCode() } });
    expect(codes(valid)).toEqual(['RATE_LIMITED']);
    // Another user is not affected.
    const other = await stack.signUp();
    const fine = await stack.graphql<{ activateGiftCard: { redemption: { status: string } } }>(ACTIVATE, {
      token: other.token,
      variables: { code: await issueCode() },
    });
    expect(fine.data?.activateGiftCard.redemption.status).toBe('CREDITED');
  });

  it('refuses 30 aliased activations at the gateway, and a subgraph called directly makes and counts only one', async () => {
    const user = await stack.signUp();
    const fields = Array.from({ length: 30 }, (_, index) => `a${index}: activateGiftCard(input: { code: "GUESS-${index}-XYZ" }) { redemption { status } }`);
    const operation = `mutation { ${fields.join('\n')} }`;
    const viaGateway = await stack.graphql(operation, { token: user.token });
    expect(viaGateway.status).toBe(400);
    // Over two limits at once: root fields and aliases.
    expect(codes(viaGateway)).toEqual(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_VALIDATION_FAILED']);
    // Past the gateway, mutation fields run in order and the first failure (non-null) ends the operation.
    const direct = await fetch(`${stack.giftCards.listening.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query: operation }),
    });
    const result = (await direct.json()) as { data: unknown; errors?: { extensions?: Record<string, unknown> }[] };
    expect(codes(result)).toEqual(['GIFT_CARD_NOT_FOUND']);
    expect(result.data).toBeNull();
    // That was one failure of the five allowed: four more wrong codes are answered, the next is limited.
    for (let attempt = 0; attempt < 4; attempt += 1) {
      expect(codes(await stack.graphql(ACTIVATE, { token: user.token, variables: { code: `MORE-${attempt}-XYZ` } }))).toEqual(['GIFT_CARD_NOT_FOUND']);
    }
    expect(codes(await stack.graphql(ACTIVATE, { token: user.token, variables: { code: 'LAST-XYZ' } }))).toEqual(['RATE_LIMITED']);
  });

  it('counts 20 concurrent wrong codes from one user exactly: 5 GIFT_CARD_NOT_FOUND, 15 RATE_LIMITED', async () => {
    const user = await stack.signUp();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => stack.graphql(ACTIVATE, { token: user.token, variables: { code: `RACE-${index}-XYZ` } })),
    );
    const all = results.flatMap(codes);
    expect(all.filter((code) => code === 'GIFT_CARD_NOT_FOUND')).toHaveLength(5);
    expect(all.filter((code) => code === 'RATE_LIMITED')).toHaveLength(15);
  });

  it('does not count a valid code that is used up or already redeemed, so a promotion burst is never rate limited', async () => {
    const code = await issueCode();
    const user = await stack.signUp();
    const results = await Promise.all(Array.from({ length: 12 }, () => stack.graphql(ACTIVATE, { token: user.token, variables: { code } })));
    expect(results.flatMap(codes).filter((value) => value === 'RATE_LIMITED')).toEqual([]);
  });

  it('limits one client address across users, and a forged address header does not escape it', async () => {
    const [used] = await database.sql`select coalesce(sum(count), 0)::int as n from gift_cards.attempt_counters where subject like 'address:%'`;
    const allowed = 40 - (used?.n ?? 0);
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThan(35);
    const users = await Promise.all(Array.from({ length: 7 }, () => stack.signUp()));
    const answers: unknown[] = [];
    for (const [index, user] of users.entries()) {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const result = await stack.graphql(ACTIVATE, {
          token: user.token,
          variables: { code: `ADDR-${index}-${attempt}-X` },
          headers: { 'x-giftpay-client-address': `10.0.0.${index}`, 'x-forwarded-for': `10.1.0.${index}` },
        });
        answers.push(...codes(result));
      }
    }
    expect(answers.filter((code) => code === 'GIFT_CARD_NOT_FOUND')).toHaveLength(allowed);
    expect(answers.filter((code) => code === 'RATE_LIMITED')).toHaveLength(35 - allowed);
  });

  it('shares the counts between replicas of the gift-cards service', async () => {
    const user = await stack.signUp();
    const config = loadGiftCardsConfig({ ...stack.env, GIFT_CARDS_PORT: '0' });
    const replicaA = await createGiftCards({ config, startRelay: false });
    const replicaB = await createGiftCards({ config, startRelay: false });
    try {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        await expect(replicaA.redemptions.activate(user.userId, `REPLICA-${attempt}-X`)).rejects.toMatchObject({ code: 'GIFT_CARD_NOT_FOUND' });
      }
      await expect(replicaB.redemptions.activate(user.userId, 'REPLICA-B-X')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await replicaA.close();
      await replicaB.close();
    }
  });
});

describe('behind a trusted proxy', () => {
  it('counts attempts under the address the proxy appended, not one the client wrote before it', async () => {
    const proxied = await createGateway({ config: loadGatewayConfig({ ...stack.env, TRUST_PROXY: 'true', GATEWAY_PORT: '0' }) });
    const listening = await listen(proxied.server, 0, '127.0.0.1');
    try {
      const user = await stack.signUp();
      await fetch(`${listening.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, 'x-forwarded-for': '203.0.113.7, 198.51.100.23' },
        body: JSON.stringify({ query: 'mutation { activateGiftCard(input: { code: "PROXY-GUESS-1" }) { redemption { id } } }' }),
      });
      const subjects = (await database.sql`select subject from gift_cards.attempt_counters where subject like 'address:%'`).map((row) => row.subject);
      expect(subjects).toContain('address:198.51.100.23');
      expect(subjects).not.toContain('address:203.0.113.7');
    } finally {
      await listening.close();
      await proxied.close();
    }
  });
});

describe('failed log-ins', () => {
  it('answers RATE_LIMITED after too many wrong passwords for a username, even for the right password', async () => {
    const user = await stack.signUp();
    const logIn = (password: string) =>
      stack.graphql('mutation ($input: LogInInput!) { logIn(input: $input) { token } }', { variables: { input: { username: user.username, password } } });
    for (let attempt = 0; attempt < 4; attempt += 1) expect(codes(await logIn(`wrong-password-${attempt}`))).toEqual(['INVALID_CREDENTIALS']);
    const limited = await logIn('wrong-password-again');
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    expect(limited.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(codes(await logIn('a-long-enough-password'))).toEqual(['RATE_LIMITED']);
  });
});
