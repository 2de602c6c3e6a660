// Guessing must not pay: failed activations and failed log-ins are limited per user (or
// username) and per client address, in state all replicas share, whatever the shape of the
// request, and answered RATE_LIMITED with retryAfterSeconds.
//
// Every test sends its requests from a loopback address of its own and signs up its own users,
// so no test spends another's budget. Windows are a day long (RATE_LIMIT_WINDOW_SECONDS) and a
// test never starts in the last two minutes of one, so no window boundary resets the counts
// in the middle of a test.

import { CLIENT_ADDRESS_HEADER } from '@giftpay/common';
import { createServer as createGiftCards } from '@giftpay/gift-cards';
import { loadConfig as loadGiftCardsConfig } from '@giftpay/gift-cards/config';
import {
  createTestDatabase,
  freshLoopbackAddress,
  type GraphQLResult,
  graphqlFrom,
  type Stack,
  startGateway,
  startStack,
  type TestDatabase,
} from '@giftpay/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const WINDOW_SECONDS = 86_400;
/** Longer than any test here takes (the e2e test timeout). */
const EDGE_MARGIN_SECONDS = 120;

let stack: Stack;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({
    databaseUrl: database.url,
    env: {
      RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
      FAILED_ACTIVATIONS_PER_USER: '5',
      FAILED_ACTIVATIONS_PER_ADDRESS: '20',
      FAILED_LOGINS_PER_USERNAME: '4',
      FAILED_LOGINS_PER_ADDRESS: '1000',
    },
  });
});

afterAll(async () => {
  await stack?.close();
});

async function secondsLeftInWindow(): Promise<number> {
  const [row] = await database.sql`select ${WINDOW_SECONDS}::int - (extract(epoch from now())::bigint % ${WINDOW_SECONDS})::int as left`;
  return Number(row?.left);
}

/** Windows are aligned to the epoch, in PostgreSQL's clock: wait out the end of one that is about to close. */
beforeEach(
  async () => {
    const left = await secondsLeftInWindow();
    if (left < EDGE_MARGIN_SECONDS) await new Promise((done) => setTimeout(done, (left + 1) * 1000));
  },
  (EDGE_MARGIN_SECONDS + 10) * 1000,
);

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } } }';

async function issueCode(): Promise<string> {
  return (await stack.issueGiftCard({ amount: '10' })).code;
}

function codes(result: { errors?: { extensions?: Record<string, unknown> }[] | undefined }): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}

/** Activates `code` as `token`, through the gateway, from the client address `from`. */
function activate(from: string, token: string, code: string, headers: Record<string, string> = {}): Promise<GraphQLResult> {
  return graphqlFrom(from, `${stack.gatewayUrl}/graphql`, ACTIVATE, { token, variables: { code }, headers });
}

async function countOf(subject: string): Promise<number> {
  const [row] = await database.sql`select coalesce(sum(count), 0)::int as n from gift_cards.attempt_counters where subject = ${subject}`;
  return Number(row?.n);
}

describe('failed activations', () => {
  it('answers RATE_LIMITED with retryAfterSeconds after too many wrong codes, and then refuses even a right one', async () => {
    const address = freshLoopbackAddress();
    const user = await stack.signUp();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect(codes(await activate(address, user.token, `WRONG-${attempt}-CODE`))).toEqual(['GIFT_CARD_NOT_FOUND']);
    }
    const limited = await activate(address, user.token, 'WRONG-AGAIN');
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    // retryAfterSeconds is what is left of the window.
    const retryAfter = Number(limited.errors?.[0]?.extensions?.retryAfterSeconds);
    expect(Math.abs(retryAfter - (await secondsLeftInWindow()))).toBeLessThanOrEqual(5);
    expect(codes(await activate(address, user.token, await issueCode()))).toEqual(['RATE_LIMITED']);
    // Another user from the same address is not affected.
    const other = await stack.signUp();
    const fine = await activate(address, other.token, await issueCode());
    expect(fine.data?.activateGiftCard).toEqual({ redemption: { status: 'CREDITED' } });
    expect(await countOf(`user:${user.userId}`)).toBe(5);
  });

  it('refuses 30 aliased activations at the gateway, and a subgraph called directly makes and counts only one', async () => {
    const address = freshLoopbackAddress();
    const user = await stack.signUp();
    const fields = Array.from({ length: 30 }, (_, index) => `a${index}: activateGiftCard(input: { code: "GUESS-${index}-XYZ" }) { redemption { status } }`);
    const operation = `mutation { ${fields.join('\n')} }`;
    const viaGateway = await graphqlFrom(address, `${stack.gatewayUrl}/graphql`, operation, { token: user.token });
    expect(viaGateway.status).toBe(400);
    // Over two limits at once: root fields and aliases.
    expect(codes(viaGateway)).toEqual(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_VALIDATION_FAILED']);
    expect(await countOf(`user:${user.userId}`)).toBe(0);
    // Past the gateway, mutation fields run in order and the first failure (non-null) ends the operation.
    const direct = await graphqlFrom(address, `${stack.giftCards.listening.url}/graphql`, operation, { token: user.token });
    expect(codes(direct)).toEqual(['GIFT_CARD_NOT_FOUND']);
    expect(direct.data).toBeNull();
    expect(await countOf(`user:${user.userId}`)).toBe(1);
    // That was one failure of the five allowed: four more wrong codes are answered, the next is limited.
    for (let attempt = 0; attempt < 4; attempt += 1) {
      expect(codes(await activate(address, user.token, `MORE-${attempt}-XYZ`))).toEqual(['GIFT_CARD_NOT_FOUND']);
    }
    expect(codes(await activate(address, user.token, 'LAST-XYZ'))).toEqual(['RATE_LIMITED']);
  });

  it('counts 20 concurrent wrong codes from one user exactly: 5 GIFT_CARD_NOT_FOUND, 15 RATE_LIMITED', async () => {
    const address = freshLoopbackAddress();
    const user = await stack.signUp();
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => activate(address, user.token, `RACE-${index}-XYZ`)));
    const all = results.flatMap(codes);
    expect(all.filter((code) => code === 'GIFT_CARD_NOT_FOUND')).toHaveLength(5);
    expect(all.filter((code) => code === 'RATE_LIMITED')).toHaveLength(15);
  });

  it('does not count a valid code that is used up or already redeemed, so a promotion burst is never rate limited', async () => {
    const address = freshLoopbackAddress();
    const code = await issueCode();
    const user = await stack.signUp();
    const results = await Promise.all(Array.from({ length: 12 }, () => activate(address, user.token, code)));
    const answers = results.map((result) => codes(result)[0] ?? result.data?.activateGiftCard);
    expect(answers.filter((answer) => answer === 'RATE_LIMITED')).toEqual([]);
    expect(answers.filter((answer) => answer === 'GIFT_CARD_ALREADY_REDEEMED')).toHaveLength(11);
    expect(await countOf(`user:${user.userId}`)).toBe(0);
    expect(await countOf(`address:${address}`)).toBe(0);
  });

  it('limits one client address across users, and a forged address header does not escape it', async () => {
    const address = freshLoopbackAddress();
    const users = await Promise.all(Array.from({ length: 7 }, () => stack.signUp()));
    const answers: unknown[] = [];
    for (const [index, user] of users.entries()) {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const result = await activate(address, user.token, `ADDR-${index}-${attempt}-X`, {
          [CLIENT_ADDRESS_HEADER]: `10.0.0.${index}`,
          'x-forwarded-for': `10.1.0.${index}`,
        });
        answers.push(...codes(result));
      }
    }
    // 7 users × 5 wrong codes: each user stays within its own 5, the address allows 20.
    expect(answers.filter((code) => code === 'GIFT_CARD_NOT_FOUND')).toHaveLength(20);
    expect(answers.filter((code) => code === 'RATE_LIMITED')).toHaveLength(15);
    expect(await countOf(`address:${address}`)).toBe(20);
    const forged = users.flatMap((_, index) => [`address:10.0.0.${index}`, `address:10.1.0.${index}`]);
    expect(await database.sql`select subject from gift_cards.attempt_counters where subject in ${database.sql(forged)}`).toEqual([]);
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
    const proxied = await startGateway({ ...stack.env, TRUST_PROXY: 'true' });
    try {
      const user = await stack.signUp();
      const [written, appended] = [freshLoopbackAddress().replace(/^127\./, '203.'), freshLoopbackAddress().replace(/^127\./, '198.')];
      const result = await graphqlFrom(freshLoopbackAddress(), `${proxied.url}/graphql`, ACTIVATE, {
        token: user.token,
        variables: { code: 'PROXY-GUESS-1' },
        headers: { 'x-forwarded-for': `${written}, ${appended}` },
      });
      expect(codes(result)).toEqual(['GIFT_CARD_NOT_FOUND']);
      expect(await countOf(`address:${appended}`)).toBe(1);
      expect(await countOf(`address:${written}`)).toBe(0);
    } finally {
      await proxied.close();
    }
  });
});

describe('failed log-ins', () => {
  it('answers RATE_LIMITED after too many wrong passwords for a username, even for the right password', async () => {
    const address = freshLoopbackAddress();
    const user = await stack.signUp();
    const logIn = (password: string) =>
      graphqlFrom(address, `${stack.gatewayUrl}/graphql`, 'mutation ($input: LogInInput!) { logIn(input: $input) { token } }', {
        variables: { input: { username: user.username, password } },
      });
    for (let attempt = 0; attempt < 4; attempt += 1) expect(codes(await logIn(`wrong-password-${attempt}`))).toEqual(['INVALID_CREDENTIALS']);
    const limited = await logIn('wrong-password-again');
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    // retryAfterSeconds is what is left of the window, as for activations.
    const retryAfter = Number(limited.errors?.[0]?.extensions?.retryAfterSeconds);
    expect(Math.abs(retryAfter - (await secondsLeftInWindow()))).toBeLessThanOrEqual(5);
    expect(codes(await logIn('a-long-enough-password'))).toEqual(['RATE_LIMITED']);
  });
});
