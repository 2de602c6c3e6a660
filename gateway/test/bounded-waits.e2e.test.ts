// Bounded waits: a row lock held for a long time costs the requests that need that row, not
// the service (lock_timeout → SERVICE_UNAVAILABLE, /health and other requests fine); a client
// that trickles its request is cut off; connections past the cap are refused; and a pool that
// cannot fit the database is refused at start with a message naming DB_POOL_MAX.

import { ConfigError } from '@giftpay/common';
import { checkPoolFits } from '@giftpay/common/db';
import {
  closedAfter,
  createTestDatabase,
  healthStatus,
  openSocket,
  type SignedIn,
  type Stack,
  startStack,
  type TestDatabase,
  trickleUntilClosed,
  waitUntil,
} from '@giftpay/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let database: TestDatabase;
let stack: Stack;
let user: SignedIn;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({
    databaseUrl: database.url,
    env: { DB_LOCK_TIMEOUT_MS: '300', HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '1500', HTTP_MAX_CONNECTIONS: '20' },
  });
  user = await stack.signUp();
});

afterAll(async () => {
  await stack?.close();
});

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } } }';

describe('a promotion row locked for a long time', () => {
  it('refuses the activations that need it with SERVICE_UNAVAILABLE after the lock timeout, while /health and other requests are served', async () => {
    const promo = await stack.issueGiftCard({ amount: '10', usageLimit: 50 });
    const locker = postgres(database.url, { max: 1, onnotice: () => {} });
    let release: () => void = () => {};
    const released = new Promise<void>((done) => {
      release = done;
    });
    const holding = locker.begin(async (tx) => {
      await tx`select id from gift_cards.gift_cards where id = ${promo.id} for update`;
      await released;
    });
    try {
      // The lock is held: wait until PostgreSQL shows it, so the fault is real.
      await waitUntil('PostgreSQL to show the row lock', async () => {
        const [row] =
          await database.sql`select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'gift_cards' and l.mode = 'RowShareLock'`;
        return (row?.n ?? 0) > 0;
      });
      const users = await Promise.all(Array.from({ length: 12 }, () => stack.signUp()));
      // The holder keeps the row until the end of the test: each activation is answered only
      // because it gave up after the lock timeout (a wait for the holder would hang into the
      // test's timeout).
      const answers = await Promise.all(users.map((each) => stack.graphql(ACTIVATE, { token: each.token, variables: { code: promo.code } })));
      expect(answers.map((answer) => answer.errors?.[0]?.extensions?.code)).toEqual(Array(12).fill('SERVICE_UNAVAILABLE'));
      expect(answers[0]?.errors?.[0]?.extensions?.retryAfterSeconds).toBe(1);
      expect((await fetch(`${stack.gatewayUrl}/health`)).status).toBe(200);
      const other = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
      expect(other.data?.me.wallet.balance.amount).toBe('0');
      // Nothing was claimed while the row was locked.
      const [claims] = await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${promo.id}`;
      expect(claims?.n).toBe(0);
    } finally {
      release();
      await holding;
      await locker.end();
    }
    const after = await stack.graphql<{ activateGiftCard: { redemption: { status: string } } }>(ACTIVATE, {
      token: user.token,
      variables: { code: promo.code },
    });
    expect(after.data?.activateGiftCard.redemption.status).toBe('CREDITED');
  });
});

describe('the HTTP edge', () => {
  it('cuts off a client that trickles its body, after HTTP_REQUEST_TIMEOUT_MS, with 408', async () => {
    // At a byte every 200 ms the body would take minutes, past the test's own timeout: only
    // the server's timeout can end the exchange in time.
    const { said } = await trickleUntilClosed(
      stack.gatewayUrl,
      'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
      ' ',
    );
    expect(said).toMatch(/^HTTP\/1\.1 408/);
  });

  it('cuts off a client that trickles its headers, after HTTP_HEADERS_TIMEOUT_MS', async () => {
    // The client keeps adding headers and never ends them: only the server's timeout can end
    // the exchange within the test's own.
    const { said } = await trickleUntilClosed(stack.wallet.listening.url, 'GET /health HTTP/1.1\r\n', 'X-Slow: 1\r\n');
    expect(said).toMatch(/^HTTP\/1\.1 408/);
  });

  it('refuses connections past HTTP_MAX_CONNECTIONS and serves again once they are gone', async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => openSocket(stack.accounts.listening.url)));
    try {
      const extra = await openSocket(stack.accounts.listening.url);
      const { said } = await closedAfter(extra);
      expect(said).toBe('');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    // Served again once they are gone (the server notices each close on its own time).
    await waitUntil('accounts to serve /health again', async () => (await healthStatus(stack.accounts.listening.url)) === 200, { timeoutMs: 10_000 });
  });
});

describe('a pool that cannot fit the database', () => {
  it('is refused at start with a message naming DB_POOL_MAX and the server’s limit', async () => {
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`select current_setting('max_connections')::int as max`;
      const warnings: unknown[] = [];
      const refusal = await checkPoolFits(sql, (row?.max ?? 0) + 1, { warn: (...args: unknown[]) => warnings.push(args) }).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(ConfigError);
      expect((refusal as ConfigError).message).toMatch(
        /^Invalid configuration: DB_POOL_MAX is \d+, more than the \d+ connections this PostgreSQL server allows/,
      );
      await expect(checkPoolFits(sql, 5, { warn: (...args: unknown[]) => warnings.push(args) })).resolves.toBeUndefined();
      expect(warnings).toEqual([]);
    } finally {
      await sql.end();
    }
  });
});
