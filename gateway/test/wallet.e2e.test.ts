// The wallet's public API through the gateway: spend and transfer with exact amounts,
// idempotent retries, every refusal with its contract code, and history paging.

import { randomUUID } from 'node:crypto';
import { createTestDatabase, type SignedIn, type Stack, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;

beforeAll(async () => {
  const database = await createTestDatabase();
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

function spendInput(amount: string, idempotencyKey = randomUUID(), currencyCode = 'IRR', description = 'coffee') {
  return { input: { amount: { amount, currencyCode }, description, idempotencyKey } };
}

async function balanceOf(user: SignedIn): Promise<string | undefined> {
  const result = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
  return result.data?.me.wallet.balance.amount;
}

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
  });
});

describe('transaction history', () => {
  it('pages newest first by opaque cursors, stable while new entries arrive', async () => {
    const user = await fundedUser('100');
    for (let index = 1; index <= 5; index += 1)
      await stack.graphql(SPEND, { token: user.token, variables: spendInput('1', randomUUID(), 'IRR', `spend ${index}`) });
    const PAGE = `query ($after: String) { me { wallet { transactions(first: 2, after: $after) {
      edges { cursor node { description } } pageInfo { hasNextPage endCursor } } } } }`;
    type Page = {
      me: { wallet: { transactions: { edges: { node: { description: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } };
    };
    const first = await stack.graphql<Page>(PAGE, { token: user.token });
    expect(first.data?.me.wallet.transactions.edges.map((edge) => edge.node.description)).toEqual(['spend 5', 'spend 4']);
    // A new entry arrives between pages: the next page goes on where the first one stopped.
    await stack.graphql(SPEND, { token: user.token, variables: spendInput('1', randomUUID(), 'IRR', 'spend 6') });
    const descriptions: string[] = [];
    let after = first.data?.me.wallet.transactions.pageInfo.endCursor ?? null;
    for (;;) {
      const page = await stack.graphql<Page>(PAGE, { token: user.token, variables: { after } });
      descriptions.push(...(page.data?.me.wallet.transactions.edges.map((edge) => edge.node.description) ?? []));
      if (!page.data?.me.wallet.transactions.pageInfo.hasNextPage) break;
      after = page.data.me.wallet.transactions.pageInfo.endCursor;
    }
    expect(descriptions).toEqual(['spend 3', 'spend 2', 'spend 1', expect.stringMatching(/^Gift card/)]);
  });
});
