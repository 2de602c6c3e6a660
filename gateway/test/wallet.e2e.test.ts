// The wallet's public API through the gateway: spend and transfer with exact amounts,
// idempotent retries, every refusal with its contract code, and history paging.

import { randomUUID } from 'node:crypto';
import { listen } from '@giftpay/common';
import {
  assertLedgerInvariants,
  balanceThroughGateway,
  createTestDatabase,
  pageToEnd,
  type SignedIn,
  type Stack,
  startFaultyProxy,
  startGateway,
  startStack,
  type TestDatabase,
  walletsOf,
} from '@giftpay/testing';
import { createServer as createWallet } from '@giftpay/wallet';
import { loadConfig as loadWalletConfig } from '@giftpay/wallet/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
});

afterAll(async () => {
  await stack?.close();
});

/** A signed-up user whose wallet holds `amount` IRR, funded through a gift card as a real user would be. */
async function fundedUser(amount: string): Promise<SignedIn> {
  const user = await stack.signUp();
  const { code } = await stack.issueGiftCard({ amount });
  await stack.graphql('mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } } }', {
    token: user.token,
    variables: { code },
  });
  return user;
}

const SPEND = `mutation ($input: SpendInput!) {
  spend(input: $input) { transaction { id kind amount { amount currencyCode } balanceAfter { amount } description createdAt } wallet { balance { amount } } }
}`;
const TRANSFER = `mutation ($input: TransferInput!) {
  transfer(input: $input) { transaction { id kind amount { amount } balanceAfter { amount } description } wallet { balance { amount } } }
}`;

interface SpendData {
  spend: {
    transaction: {
      id: string;
      kind: string;
      amount: { amount: string; currencyCode: string };
      balanceAfter: { amount: string };
      description: string;
      createdAt: string;
    };
    wallet: { balance: { amount: string } };
  };
}

function spendInput(amount: string, idempotencyKey: string = randomUUID(), currencyCode = 'IRR', description = 'coffee') {
  return { input: { amount: { amount, currencyCode }, description, idempotencyKey } };
}

const balanceOf = (user: SignedIn) => balanceThroughGateway(stack, user);

describe('spend', () => {
  it('debits the wallet and returns the transaction with the balance after it', async () => {
    const user = await fundedUser('1000');
    const result = await stack.graphql<SpendData>(SPEND, { token: user.token, variables: spendInput('250') });
    expect(result.errors).toBeUndefined();
    expect(result.data?.spend.transaction).toMatchObject({
      kind: 'DEBIT',
      amount: { amount: '250', currencyCode: 'IRR' },
      balanceAfter: { amount: '750' },
      description: 'coffee',
    });
    expect(result.data?.spend.transaction.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(result.data?.spend.wallet.balance.amount).toBe('750');
  });

  it('returns the first result for a retried key and moves no money twice; another input under the key is IDEMPOTENCY_KEY_REUSED', async () => {
    const user = await fundedUser('1000');
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => stack.graphql<SpendData>(SPEND, { token: user.token, variables: spendInput('100', key) })),
    );
    expect(new Set(results.map((result) => result.data?.spend.transaction.id)).size).toBe(1);
    expect(await balanceOf(user)).toBe('900');
    const changed = await stack.graphql(SPEND, { token: user.token, variables: spendInput('101', key) });
    expect(changed.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const { entries } = await assertLedgerInvariants(database.sql, { ownerIds: [user.userId] });
    expect(entries.filter((entry) => entry.idempotencyKey === key).map((entry) => entry.id)).toEqual([results[0]?.data?.spend.transaction.id]);
  });

  it.each([
    ['zero', '0'],
    ['negative', '-5'],
    ['more decimals than IRR has', '1.5'],
    ['not a number', '12abc'],
  ])('refuses a %s amount with BAD_USER_INPUT', async (_label, amount) => {
    const user = await fundedUser('10');
    const result = await stack.graphql(SPEND, { token: user.token, variables: spendInput(amount) });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await balanceOf(user)).toBe('10');
  });

  it('refuses a description or a key that is not well-formed Unicode (a lone surrogate) with BAD_USER_INPUT, and posts the spend sent beside it', async () => {
    const user = await fundedUser('10');
    const loneSurrogate = 'coffee \ud800';
    const [badDescription, badKey, good] = await Promise.all([
      stack.graphql(SPEND, { token: user.token, variables: spendInput('1', randomUUID(), 'IRR', loneSurrogate) }),
      stack.graphql(SPEND, { token: user.token, variables: spendInput('1', loneSurrogate) }),
      stack.graphql<SpendData>(SPEND, { token: user.token, variables: spendInput('2') }),
    ]);
    expect(badDescription.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(badKey.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(good.data?.spend.transaction.amount.amount).toBe('2');
    expect(await balanceOf(user)).toBe('8');
  });

  it('refuses a float amount sent as a JSON number', async () => {
    const user = await fundedUser('10');
    const result = await stack.graphql(SPEND, {
      token: user.token,
      variables: { input: { amount: { amount: 1.5, currencyCode: 'IRR' }, description: 'x', idempotencyKey: randomUUID() } },
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses another currency with CURRENCY_MISMATCH and an overdraft with INSUFFICIENT_FUNDS', async () => {
    const user = await fundedUser('10');
    const usd = await stack.graphql(SPEND, { token: user.token, variables: spendInput('1.00', randomUUID(), 'USD') });
    expect(usd.errors?.[0]?.extensions?.code).toBe('CURRENCY_MISMATCH');
    const tooMuch = await stack.graphql(SPEND, { token: user.token, variables: spendInput('11') });
    expect(tooMuch.errors?.[0]?.extensions?.code).toBe('INSUFFICIENT_FUNDS');
    expect(await balanceOf(user)).toBe('10');
  });

  it('refuses an anonymous spend with UNAUTHENTICATED', async () => {
    const result = await stack.graphql(SPEND, { variables: spendInput('1') });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('transfer', () => {
  it("moves money to another user's wallet, with both sides in the ledger", async () => {
    const alice = await fundedUser('500');
    const bob = await stack.signUp();
    const result = await stack.graphql<{
      transfer: { transaction: { kind: string; amount: { amount: string }; description: string }; wallet: { balance: { amount: string } } };
    }>(TRANSFER, {
      token: alice.token,
      variables: { input: { toUsername: bob.username.toUpperCase(), amount: { amount: '200', currencyCode: 'IRR' }, idempotencyKey: randomUUID() } },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.transfer.transaction).toMatchObject({ kind: 'DEBIT', amount: { amount: '200' } });
    expect(result.data?.transfer.wallet.balance.amount).toBe('300');
    const bobHistory = await stack.graphql<{
      me: { wallet: { balance: { amount: string }; transactions: { edges: { node: { kind: string; description: string } }[] } } };
    }>('{ me { wallet { balance { amount } transactions { edges { node { kind description } } } } } }', { token: bob.token });
    expect(bobHistory.data?.me.wallet.balance.amount).toBe('200');
    expect(bobHistory.data?.me.wallet.transactions.edges[0]?.node).toEqual({ kind: 'CREDIT', description: `Transfer from ${alice.username}` });
  });

  it('refuses an unknown recipient with RECIPIENT_NOT_FOUND and oneself with BAD_USER_INPUT', async () => {
    const alice = await fundedUser('50');
    const unknown = await stack.graphql(TRANSFER, {
      token: alice.token,
      variables: { input: { toUsername: 'nobody_by_this_name', amount: { amount: '1', currencyCode: 'IRR' }, idempotencyKey: randomUUID() } },
    });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('RECIPIENT_NOT_FOUND');
    const self = await stack.graphql(TRANSFER, {
      token: alice.token,
      variables: { input: { toUsername: alice.username, amount: { amount: '1', currencyCode: 'IRR' }, idempotencyKey: randomUUID() } },
    });
    expect(self.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await balanceOf(alice)).toBe('50');
  });

  it('never deadlocks when two users pay each other at the same moment, many times', async () => {
    const alice = await fundedUser('1000');
    const bob = await fundedUser('1000');
    const send = (from: SignedIn, to: SignedIn) =>
      stack.graphql(TRANSFER, {
        token: from.token,
        variables: { input: { toUsername: to.username, amount: { amount: '7', currencyCode: 'IRR' }, idempotencyKey: randomUUID() } },
      });
    const results = await Promise.all(Array.from({ length: 40 }, (_, index) => (index % 2 === 0 ? send(alice, bob) : send(bob, alice))));
    expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
    expect(await balanceOf(alice)).toBe('1000');
    expect(await balanceOf(bob)).toBe('1000');
    const { entries } = await assertLedgerInvariants(database.sql, { ownerIds: [alice.userId, bob.userId] });
    expect(entries.filter((entry) => entry.operation === 'transfer')).toHaveLength(2 * results.length);
  });
});

describe('transaction history', () => {
  const PAGE = `query ($first: Int, $after: String) { me { wallet { transactions(first: $first, after: $after) {
    edges { cursor node { id kind description amount { amount } balanceAfter { amount } createdAt } } pageInfo { hasNextPage endCursor } } } } }`;
  interface Node {
    id: string;
    kind: string;
    description: string;
    amount: { amount: string };
    balanceAfter: { amount: string };
    createdAt: string;
  }
  interface Page {
    edges: { cursor: string; node: Node }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  }

  async function page(user: SignedIn, first: number, after: string | null): Promise<Page> {
    const result = await stack.graphql<{ me: { wallet: { transactions: Page } } }>(PAGE, { token: user.token, variables: { first, after } });
    expect(result.errors).toBeUndefined();
    return result.data?.me.wallet.transactions as Page;
  }

  /** Newest first, strictly: each entry's balanceAfter is the next older one's moved by its own amount, and time never runs forward. */
  function expectNewestFirst(nodes: Node[]): void {
    for (let index = 0; index + 1 < nodes.length; index += 1) {
      const newer = nodes[index] as Node;
      const older = nodes[index + 1] as Node;
      const delta = BigInt(newer.amount.amount) * (newer.kind === 'CREDIT' ? 1n : -1n);
      expect(BigInt(newer.balanceAfter.amount)).toBe(BigInt(older.balanceAfter.amount) + delta);
      expect(Date.parse(newer.createdAt)).toBeGreaterThanOrEqual(Date.parse(older.createdAt));
    }
  }

  it('pages newest first by opaque cursors to the end, stable while new entries arrive, no entry twice and none missing', async () => {
    const user = await fundedUser('100');
    for (let index = 1; index <= 5; index += 1)
      await stack.graphql(SPEND, { token: user.token, variables: spendInput('1', randomUUID(), 'IRR', `spend ${index}`) });
    const first = await page(user, 2, null);
    expect(first.edges.map((edge) => edge.node.description)).toEqual(['spend 5', 'spend 4']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    // A new entry arrives between pages: the next page goes on where the first one stopped.
    await stack.graphql(SPEND, { token: user.token, variables: spendInput('1', randomUUID(), 'IRR', 'spend 6') });
    // pageToEnd checks each page on the way (full pages before the last, endCursor, nothing after the end).
    const seen: Page[] = [];
    const fetchFrom = (start: string | null) => async (after: string | null) => {
      const current = await page(user, 2, after ?? start);
      seen.push(current);
      return current;
    };
    const rest = await pageToEnd(2, fetchFrom(first.pageInfo.endCursor));
    // Four older entries in pages of two: the second page is full and the last, so an
    // off-by-one in hasNextPage shows as an extra, empty page.
    expect(seen.map((current) => [current.edges.length, current.pageInfo.hasNextPage])).toEqual([
      [2, true],
      [2, false],
      [0, false],
    ]);
    expect(rest.map((node) => node.description)).toEqual(['spend 3', 'spend 2', 'spend 1', expect.stringMatching(/^Gift card/)]);

    // From the start again: every entry exactly once, newest first, the same list one large page gives.
    seen.length = 0;
    const all = await pageToEnd(2, fetchFrom(null));
    expect(seen.map((current) => current.pageInfo.hasNextPage)).toEqual([true, true, true, false, false]);
    expect(all.map((node) => node.description)).toEqual([
      'spend 6',
      'spend 5',
      'spend 4',
      'spend 3',
      'spend 2',
      'spend 1',
      expect.stringMatching(/^Gift card/),
    ]);
    expect(new Set(all.map((node) => node.id)).size).toBe(all.length);
    expectNewestFirst(all);
    expect(all[0]?.balanceAfter.amount).toBe(await balanceOf(user));
    const whole = await page(user, 50, null);
    expect(whole.pageInfo.hasNextPage).toBe(false);
    expect(whole.edges.map((edge) => edge.node)).toEqual(all);
  });
});

describe('the wallet read', () => {
  it('answers me { wallet } from the wallet subgraph alone: it holds while accounts cannot answer, and names accounts for a field of its own', async () => {
    const user = await fundedUser('30');
    // A gateway of its own whose link to the accounts subgraph refuses everything; the signing
    // keys still come from accounts itself.
    const accountsLink = await startFaultyProxy(stack.accounts.listening.url);
    const gateway = await startGateway({ ...stack.env, ACCOUNTS_URL: accountsLink.url, JWKS_URL: `${stack.accounts.listening.url}/.well-known/jwks.json` });
    accountsLink.mode = 'refuse';
    try {
      const ask = async (query: string, token?: string) => {
        const response = await fetch(`${gateway.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ query }),
        });
        return (await response.json()) as { data?: { me: unknown } | null; errors?: { extensions?: Record<string, unknown> }[] };
      };
      const read = await ask('{ me { id wallet { balance { amount } transactions(first: 10) { edges { node { amount { amount } } } } } } }', user.token);
      expect(read.errors).toBeUndefined();
      expect(read.data?.me).toEqual({
        id: user.userId,
        wallet: { balance: { amount: '30' }, transactions: { edges: [{ node: { amount: { amount: '30' } } }] } },
      });
      expect(accountsLink.counts.received).toBe(0);
      // Anonymous: null, as accounts answers it, and no error.
      expect(await ask('{ me { wallet { balance { amount } } } }')).toEqual({ data: { me: null } });
      // The username lives in accounts, out of reach here.
      const withName = await ask('{ me { username wallet { balance { amount } } } }', user.token);
      expect(withName.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', service: 'accounts' });
      expect(accountsLink.counts.refused).toBeGreaterThan(0);
    } finally {
      await gateway.close();
      await accountsLink.close();
    }
  });
});

describe('a transfer or an adjustment while accounts cannot answer', () => {
  it('is refused SERVICE_UNAVAILABLE naming accounts, moves nothing, and goes through once when sent again after accounts is back', async () => {
    const [sender, recipient, admin] = [await fundedUser('50'), await stack.signUp(), await stack.logInAdmin()];
    // A wallet of its own whose link to accounts (the username lookup) fails on demand, and a
    // gateway that reaches that wallet; the signing keys still come from accounts itself.
    const accountsLink = await startFaultyProxy(stack.accounts.listening.url);
    const wallet = await createWallet({
      config: loadWalletConfig({
        ...stack.env,
        ACCOUNTS_URL: accountsLink.url,
        JWKS_URL: `${stack.accounts.listening.url}/.well-known/jwks.json`,
        SERVICE_CALL_TIMEOUT_MS: '300',
      }),
    });
    const walletListening = await listen(wallet.server, 0, '127.0.0.1');
    const gateway = await startGateway({ ...stack.env, WALLET_URL: walletListening.url });
    const ask = async (query: string, token: string, variables: Record<string, unknown>) => {
      const response = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { extensions?: Record<string, unknown> }[] };
    };
    const transfer = { toUsername: recipient.username, amount: { amount: '20', currencyCode: 'IRR' }, idempotencyKey: randomUUID() };
    const ADJUST = 'mutation ($input: AdjustWalletInput!) { adjustWallet(input: $input) { transaction { amount { amount } } } }';
    const adjustment = {
      username: recipient.username,
      amount: { amount: '5', currencyCode: 'IRR' },
      kind: 'CREDIT',
      reason: 'goodwill',
      idempotencyKey: randomUUID(),
    };
    try {
      for (const fault of ['refuse', 'hang'] as const) {
        accountsLink.mode = fault;
        for (const [name, answer] of [
          ['transfer', await ask(TRANSFER, sender.token, { input: transfer })],
          ['adjustWallet', await ask(ADJUST, admin.token, { input: adjustment })],
        ] as const) {
          expect(
            answer.errors?.map((error) => error.extensions),
            `${name} with accounts answering ${fault}`,
          ).toEqual([{ code: 'SERVICE_UNAVAILABLE', service: 'accounts', retryAfterSeconds: 1 }]);
        }
      }
      expect(accountsLink.counts.refused).toBe(2);
      expect(accountsLink.counts.hung).toBe(2);
      expect(await balanceOf(sender)).toBe('50');
      expect(await balanceOf(recipient)).toBe('0');
      accountsLink.mode = 'pass';
      const sent = await ask(TRANSFER, sender.token, { input: transfer });
      expect(sent.errors).toBeUndefined();
      expect((await ask(ADJUST, admin.token, { input: adjustment })).errors).toBeUndefined();
      expect(await balanceOf(sender)).toBe('30');
      expect(await balanceOf(recipient)).toBe('25');
      await assertLedgerInvariants(database.sql, { ownerIds: [sender.userId, recipient.userId] });
    } finally {
      await gateway.close();
      await walletListening.close();
      await wallet.close();
      await accountsLink.close();
    }
  });
});

describe('wallet ownership at the subgraph', () => {
  // The subgraph is called directly, past the gateway, the way a caller inside the network could.
  async function direct(query: string, user?: SignedIn) {
    const response = await fetch(`${stack.wallet.listening.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(user ? { authorization: `Bearer ${user.token}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: { _entities?: unknown[] } | null; errors?: { extensions?: { code?: string } }[] };
  }

  async function walletIdOf(user: SignedIn): Promise<string> {
    const result = await stack.graphql<{ me: { wallet: { id: string } } }>('{ me { wallet { id } } }', { token: user.token });
    return result.data?.me.wallet.id as string;
  }

  it('resolves a Wallet by id only for its owner or an admin: another user gets FORBIDDEN and no data', async () => {
    const owner = await fundedUser('40');
    const other = await fundedUser('7');
    const walletId = await walletIdOf(owner);
    const query = `{ _entities(representations: [{ __typename: "Wallet", id: "${walletId}" }]) { ... on Wallet { id balance { amount } transactions { edges { node { id } } } } } }`;
    const asOther = await direct(query, other);
    expect(asOther.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(asOther.data?._entities).toEqual([null]);
    expect(JSON.stringify(asOther)).not.toContain('"40"');
    const anonymous = await direct(query);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(anonymous)).not.toContain('"40"');
    const asOwner = await direct(query, owner);
    expect(asOwner.errors).toBeUndefined();
    expect(asOwner.data?._entities).toEqual([{ id: walletId, balance: { amount: '40' }, transactions: { edges: [{ node: { id: expect.any(String) } }] } }]);
    const asAdmin = await direct(query, await stack.logInAdmin());
    expect(asAdmin.data?._entities).toEqual([expect.objectContaining({ id: walletId, balance: { amount: '40' } })]);
  });

  it('answers an unknown or malformed Wallet id with null, not an error', async () => {
    const user = await stack.signUp();
    const query = `{ _entities(representations: [{ __typename: "Wallet", id: "${randomUUID()}" }, { __typename: "Wallet", id: "not-a-uuid" }]) { ... on Wallet { id } } }`;
    const result = await direct(query, user);
    expect(result.errors).toBeUndefined();
    expect(result.data?._entities).toEqual([null, null]);
  });

  it('resolves User.wallet only for that user or an admin: another user gets FORBIDDEN and creates no wallet', async () => {
    const owner = await fundedUser('25');
    const other = await stack.signUp();
    const stranger = await stack.signUp();
    const query = (userId: string) =>
      `{ _entities(representations: [{ __typename: "User", id: "${userId}" }]) { ... on User { wallet { id balance { amount } } } } }`;
    const asOther = await direct(query(owner.userId), other);
    expect(asOther.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(asOther.data?._entities ?? [null]).toEqual([null]);
    expect(JSON.stringify(asOther)).not.toContain('"25"');
    expect((await direct(query(owner.userId))).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const asOwner = await direct(query(owner.userId), owner);
    expect(asOwner.data?._entities).toEqual([{ wallet: { id: await walletIdOf(owner), balance: { amount: '25' } } }]);
    const asAdmin = await direct(query(owner.userId), await stack.logInAdmin());
    expect(asAdmin.data?._entities).toEqual(asOwner.data?._entities);
    // Asking for a stranger's wallet must not create one for them as a side effect.
    const forStranger = await direct(query(stranger.userId), other);
    expect(forStranger.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await walletsOf(database.sql, { ownerIds: [stranger.userId] })).toEqual([]);
  });
});
