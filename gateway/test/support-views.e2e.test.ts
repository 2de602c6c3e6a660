// What a support desk reaches for, through the gateway (issue 8): a user found by username
// with their wallet and redemptions, who redeemed a card and when, a card disabled by mistake
// enabled again, a wallet corrected by hand with the reason kept, and the books, which balance.
// Every admin field answers FORBIDDEN to a user, and a refused change changes nothing.

import { randomUUID } from 'node:crypto';
import {
  assertBooksBalanced,
  booksOf,
  createTestDatabase,
  type Page,
  pageToEnd,
  type SignedIn,
  type Stack,
  startStack,
  type TestDatabase,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let database: TestDatabase;
let stack: Stack;
let admin: SignedIn;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  admin = await stack.logInAdmin();
});

afterAll(async () => {
  await stack?.close();
});

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { id status } } }';

async function activate(user: SignedIn, code: string) {
  return stack.graphql<{ activateGiftCard: { redemption: { id: string; status: string } } }>(ACTIVATE, { token: user.token, variables: { code } });
}

function codeOf(answer: { errors?: readonly { extensions?: { code?: unknown } }[] }): unknown {
  return answer.errors?.[0]?.extensions?.code;
}

describe('a user found by username', () => {
  it('is found by an admin in any letter case, with the wallet, its transactions and the redemptions; null when no one has the name', async () => {
    const user = await stack.signUp();
    const { code } = await stack.issueGiftCard({ amount: '70' });
    expect((await activate(user, code)).data?.activateGiftCard.redemption.status).toBe('CREDITED');
    const query = `query ($username: String!) {
      user(username: $username) {
        id username roles
        wallet { balance { amount } transactions { edges { node { kind amount { amount } } } } }
        giftCardRedemptions { edges { node { status amount { amount } giftCard { last4 } } } totalCount }
      }
    }`;
    const found = await stack.graphql<{ user: unknown }>(query, { token: admin.token, variables: { username: user.username.toUpperCase() } });
    expect(found.errors).toBeUndefined();
    expect(found.data?.user).toEqual({
      id: user.userId,
      username: user.username,
      roles: ['user'],
      wallet: { balance: { amount: '70' }, transactions: { edges: [{ node: { kind: 'CREDIT', amount: { amount: '70' } } }] } },
      giftCardRedemptions: { edges: [{ node: { status: 'CREDITED', amount: { amount: '70' }, giftCard: { last4: code.slice(-4) } } }], totalCount: 1 },
    });
    const none = await stack.graphql<{ user: unknown }>(query, { token: admin.token, variables: { username: 'no_such_user_anywhere' } });
    expect(none).toMatchObject({ data: { user: null } });
    expect(none.errors).toBeUndefined();
  });
});

describe("a card's redemptions", () => {
  it('are paged by an admin newest first, to the end, each once, with who redeemed and when', async () => {
    const users = await Promise.all(Array.from({ length: 7 }, () => stack.signUp()));
    const { code, id } = await stack.issueGiftCard({ amount: '5', usageLimit: 10 });
    const redemptionIds: string[] = [];
    // One after another, so the order of the claims is known.
    for (const user of users) redemptionIds.push((await activate(user, code)).data?.activateGiftCard.redemption.id as string);
    const query = `query ($id: ID!, $after: String) {
      giftCard(id: $id) { redemptionCount redemptions(first: 3, after: $after) {
        edges { cursor node { id status createdAt amount { amount } user { id username } } }
        pageInfo { hasNextPage endCursor }
        totalCount
      } }
    }`;
    type Node = { id: string; status: string; createdAt: string; amount: { amount: string }; user: { id: string; username: string } };
    const nodes = await pageToEnd<Node>(3, async (after) => {
      const page = await stack.graphql<{ giftCard: { redemptions: Page<Node> & { totalCount: number } } }>(query, {
        token: admin.token,
        variables: { id, after },
      });
      expect(page.errors).toBeUndefined();
      // The whole list, on every page.
      expect(page.data?.giftCard.redemptions.totalCount).toBe(7);
      return page.data?.giftCard.redemptions as Page<Node>;
    });
    expect(nodes.map((node) => node.id)).toEqual([...redemptionIds].reverse());
    expect(nodes.map((node) => node.user)).toEqual(users.map((user) => ({ id: user.userId, username: user.username })).reverse());
    for (const node of nodes) expect(node).toMatchObject({ status: 'CREDITED', amount: { amount: '5' } });
    const times = nodes.map((node) => Date.parse(node.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('let a user read who redeemed their own redemption: themself', async () => {
    const user = await stack.signUp();
    const { code } = await stack.issueGiftCard({ amount: '3' });
    await activate(user, code);
    const own = await stack.graphql<{ me: { giftCardRedemptions: { edges: { node: { user: { id: string; username: string } } }[] } } }>(
      '{ me { giftCardRedemptions { edges { node { user { id username } } } } } }',
      { token: user.token },
    );
    expect(own.errors).toBeUndefined();
    expect(own.data?.me.giftCardRedemptions.edges).toEqual([{ node: { user: { id: user.userId, username: user.username } } }]);
  });
});

describe('the cards an admin looks for', () => {
  it('are filtered by status, the last four of the code and the time of issue, with totalCount counting the whole filtered list', async () => {
    const since = new Date().toISOString();
    const active = await stack.issueGiftCard({ amount: '11' });
    const usedUp = await stack.issueGiftCard({ amount: '12' });
    const disabled = await stack.issueGiftCard({ amount: '13' });
    const expired = await stack.issueGiftCard({ amount: '14', expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    await activate(await stack.signUp(), usedUp.code);
    await stack.graphql('mutation ($id: ID!) { disableGiftCard(id: $id) { id } }', { token: admin.token, variables: { id: disabled.id } });
    // Time moved on for this card alone: its expiry an hour ago.
    await database.sql`update gift_cards.gift_cards set expires_at = now() - interval '1 hour' where id = ${expired.id}`;
    const until = new Date(Date.now() + 1000).toISOString();

    type Card = { id: string; status: string };
    const list = async (filter: Record<string, unknown>, first = 20, after: string | null = null) => {
      const answer = await stack.graphql<{ giftCards: Page<Card> & { totalCount: number } }>(
        'query ($filter: GiftCardFilter, $first: Int, $after: String) { giftCards(first: $first, after: $after, filter: $filter) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } totalCount } }',
        { token: admin.token, variables: { filter: { createdAfter: since, ...filter }, first, after } },
      );
      expect(answer.errors).toBeUndefined();
      return answer.data?.giftCards as Page<Card> & { totalCount: number };
    };
    const all = await pageToEnd<Card>(2, (after) => list({}, 2, after));
    expect(all.map((card) => card.id)).toEqual([expired.id, disabled.id, usedUp.id, active.id]);
    expect((await list({})).totalCount).toBe(4);
    for (const [status, card] of [
      ['ACTIVE', active],
      ['USED_UP', usedUp],
      ['DISABLED', disabled],
      ['EXPIRED', expired],
    ] as const) {
      const page = await list({ status });
      expect(
        page.edges.map((edge) => edge.node),
        status,
      ).toEqual([{ id: card.id, status }]);
      expect(page.totalCount).toBe(1);
    }
    const byLast4 = await list({ last4: active.code.slice(-4).toLowerCase() });
    expect(byLast4.edges.map((edge) => edge.node.id)).toEqual([active.id]);
    expect((await list({ createdBefore: since })).edges).toEqual([]);
    expect((await list({ createdBefore: until })).totalCount).toBe(4);
    const empty = await list({ createdBefore: since });
    expect({ totalCount: empty.totalCount, pageInfo: empty.pageInfo }).toEqual({ totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null } });

    const wrong = await stack.graphql('{ giftCards(filter: { last4: "AB" }) { totalCount } }', { token: admin.token });
    expect(codeOf(wrong)).toBe('BAD_USER_INPUT');
  });
});

describe('a card disabled by mistake', () => {
  it('is enabled again by an admin: disabledAt is set and then cleared, and activation is refused and then accepted', async () => {
    const { code, id } = await stack.issueGiftCard({ amount: '9' });
    const fields = 'id status disabledAt';
    const disabled = await stack.graphql<{ disableGiftCard: { status: string; disabledAt: string | null } }>(
      `mutation ($id: ID!) { disableGiftCard(id: $id) { ${fields} } }`,
      { token: admin.token, variables: { id } },
    );
    expect(disabled.data?.disableGiftCard.status).toBe('DISABLED');
    const disabledAt = disabled.data?.disableGiftCard.disabledAt as string;
    expect(Math.abs(Date.parse(disabledAt) - Date.now())).toBeLessThan(60_000);
    const user = await stack.signUp();
    expect(codeOf(await activate(user, code))).toBe('GIFT_CARD_DISABLED');

    const enable = (token: string) =>
      stack.graphql<{ enableGiftCard: { id: string; status: string; disabledAt: string | null } }>(
        `mutation ($id: ID!) { enableGiftCard(id: $id) { ${fields} } }`,
        {
          token,
          variables: { id },
        },
      );
    const enabled = await enable(admin.token);
    expect(enabled.errors).toBeUndefined();
    expect(enabled.data?.enableGiftCard).toEqual({ id, status: 'ACTIVE', disabledAt: null });
    // Enabling a card that is not disabled changes nothing.
    expect((await enable(admin.token)).data?.enableGiftCard).toEqual({ id, status: 'ACTIVE', disabledAt: null });
    expect((await activate(user, code)).data?.activateGiftCard.redemption.status).toBe('CREDITED');
  });

  it('answers GIFT_CARD_NOT_FOUND for an id no card has', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      const answer = await stack.graphql(`mutation { enableGiftCard(id: "${id}") { id } }`, { token: admin.token });
      expect(codeOf(answer)).toBe('GIFT_CARD_NOT_FOUND');
    }
  });
});

describe('who may use the support views', () => {
  it('answers FORBIDDEN to a user for every admin field, UNAUTHENTICATED without a token, and a refused enable changes nothing', async () => {
    const user = await stack.signUp();
    const { id } = await stack.issueGiftCard({ amount: '4' });
    await stack.graphql('mutation ($id: ID!) { disableGiftCard(id: $id) { id } }', { token: admin.token, variables: { id } });
    const attempts = [
      [`{ user(username: "${admin.username}") { id } }`, {}],
      ['mutation ($id: ID!) { enableGiftCard(id: $id) { id } }', { id }],
      ['query ($id: ID!) { giftCard(id: $id) { redemptions { edges { node { id } } } } }', { id }],
      ['{ ledgerReport { balanced } }', {}],
      ['{ giftCardEvents { totalCount } }', {}],
      ['query ($id: ID!) { giftCard(id: $id) { events { action } } }', { id }],
      ['{ walletAdjustments { totalCount } }', {}],
      [
        ADJUST,
        {
          input: {
            username: user.username,
            amount: { amount: '1', currencyCode: 'IRR' },
            kind: 'CREDIT',
            reason: 'self-service',
            idempotencyKey: randomUUID(),
          },
        },
      ],
    ] as const;
    for (const [query, variables] of attempts) {
      const asUser = await stack.graphql(query, { token: user.token, variables });
      expect(codeOf(asUser), query).toBe('FORBIDDEN');
      const anonymous = await stack.graphql(query, { variables });
      expect(codeOf(anonymous), query).toBe('UNAUTHENTICATED');
    }
    const [card] = await database.sql`select disabled_at is not null as disabled from gift_cards.gift_cards where id = ${id}`;
    expect(card).toEqual({ disabled: true });
    const [adjusted] = await database.sql`select count(*)::int as n from wallet.ledger_entries where operation = 'adjustment' and description = 'self-service'`;
    expect(adjusted).toEqual({ n: 0 });
    const [enabled] = await database.sql`select count(*)::int as n from gift_cards.card_events where gift_card_id = ${id} and action = 'ENABLED'`;
    expect(enabled).toEqual({ n: 0 });
    // Who made an adjustment is for admins only, even on the user's own transactions.
    const { code } = await stack.issueGiftCard({ amount: '3' });
    expect((await activate(user, code)).data?.activateGiftCard.redemption.status).toBe('CREDITED');
    const own = await stack.graphql('{ me { wallet { transactions { edges { node { id adjustedBy { id } } } } } } }', { token: user.token });
    expect(codeOf(own)).toBe('FORBIDDEN');
  });
});

describe('the audit log of admin actions', () => {
  const CARD_EVENTS = `query ($id: ID!) { giftCard(id: $id) { disabledAt events { action at by { username } reason giftCard { id } } } }`;
  interface CardEvents {
    giftCard: {
      disabledAt: string | null;
      events: { action: string; at: string; by: { username: string } | null; reason: string | null; giftCard: { id: string } }[];
    };
  }

  it("keeps a card's issue, disable and enable with who, when and why, oldest first, and nothing for a change that changes nothing", async () => {
    const { id } = await stack.issueGiftCard({ amount: '6' });
    const disable = 'mutation ($id: ID!, $reason: String) { disableGiftCard(id: $id, reason: $reason) { disabledAt } }';
    const disabled = await stack.graphql<{ disableGiftCard: { disabledAt: string } }>(disable, {
      token: admin.token,
      variables: { id, reason: 'reported stolen, ticket 7' },
    });
    expect(disabled.errors).toBeUndefined();
    expect((await stack.graphql(disable, { token: admin.token, variables: { id } })).errors).toBeUndefined();
    const enable = 'mutation ($id: ID!, $reason: String) { enableGiftCard(id: $id, reason: $reason) { disabledAt } }';
    expect((await stack.graphql(enable, { token: admin.token, variables: { id, reason: 'found again' } })).errors).toBeUndefined();
    const blank = await stack.graphql(enable, { token: admin.token, variables: { id, reason: ' ' } });
    expect(codeOf(blank)).toBe('BAD_USER_INPUT');

    const answer = await stack.graphql<CardEvents>(CARD_EVENTS, { token: admin.token, variables: { id } });
    expect(answer.errors).toBeUndefined();
    const events = answer.data?.giftCard.events ?? [];
    expect(events.map(({ action, by, reason, giftCard }) => ({ action, by, reason, giftCard }))).toEqual([
      { action: 'ISSUED', by: { username: admin.username }, reason: null, giftCard: { id } },
      { action: 'DISABLED', by: { username: admin.username }, reason: 'reported stolen, ticket 7', giftCard: { id } },
      { action: 'ENABLED', by: { username: admin.username }, reason: 'found again', giftCard: { id } },
    ]);
    expect(events[1]?.at).toBe(disabled.data?.disableGiftCard.disabledAt);
    expect(answer.data?.giftCard.disabledAt).toBeNull();
  });

  it('pages the cards log newest first to its end, by action, with totalCount equal to what the table holds', async () => {
    const { id } = await stack.issueGiftCard({ amount: '8' });
    await stack.graphql('mutation ($id: ID!) { disableGiftCard(id: $id, reason: "paging") { id } }', { token: admin.token, variables: { id } });
    const query = `query ($after: String) {
      giftCardEvents(first: 2, after: $after, action: DISABLED) { edges { cursor node { action at reason giftCard { id } } } pageInfo { hasNextPage endCursor } totalCount }
    }`;
    let totalCount = -1;
    const all = await pageToEnd(2, async (after) => {
      const page = await stack.graphql<{
        giftCardEvents: Page<{ action: string; at: string; reason: string | null; giftCard: { id: string } }> & { totalCount: number };
      }>(query, { token: admin.token, variables: { after } });
      expect(page.errors).toBeUndefined();
      totalCount = page.data?.giftCardEvents.totalCount ?? -1;
      return page.data?.giftCardEvents as Page<{ action: string; at: string; reason: string | null; giftCard: { id: string } }>;
    });
    const [row] = await database.sql`select count(*)::int as n from gift_cards.card_events where action = 'DISABLED'`;
    expect(all).toHaveLength(row?.n);
    expect(totalCount).toBe(row?.n);
    expect(all.every((event) => event.action === 'DISABLED')).toBe(true);
    expect(all[0]).toMatchObject({ reason: 'paging', giftCard: { id } });
    const times = all.map((event) => Date.parse(event.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("keeps who made each adjustment: on the transaction for admins, in the adjustments log once per key, and the user's own statement does not name the admin", async () => {
    const user = await stack.signUp();
    const key = randomUUID();
    const credited = await adjust(user.username, 'CREDIT', '9', 'audit trail', key);
    expect(credited.errors).toBeUndefined();
    expect((await adjust(user.username, 'CREDIT', '9', 'audit trail', key)).errors).toBeUndefined();
    const transactionId = credited.data?.adjustWallet.transaction.id;

    const log = await stack.graphql<{
      walletAdjustments: {
        edges: {
          node: { user: { username: string }; by: { username: string }; reason: string; at: string; transaction: { id: string; amount: { amount: string } } };
        }[];
        totalCount: number;
      };
    }>('{ walletAdjustments(first: 5) { edges { node { user { username } by { username } reason at transaction { id amount { amount } } } } totalCount } }', {
      token: admin.token,
    });
    expect(log.errors).toBeUndefined();
    const mine = log.data?.walletAdjustments.edges.filter((edge) => edge.node.user.username === user.username) ?? [];
    expect(mine.map((edge) => edge.node)).toEqual([
      {
        user: { username: user.username },
        by: { username: admin.username },
        reason: 'audit trail',
        at: expect.any(String),
        transaction: { id: transactionId, amount: { amount: '9' } },
      },
    ]);
    const [rows] = await database.sql`select count(*)::int as n from wallet.adjustments`;
    expect(log.data?.walletAdjustments.totalCount).toBe(rows?.n);

    const asAdmin = await stack.graphql<{ user: { wallet: { transactions: { edges: { node: { id: string; adjustedBy: { username: string } | null } }[] } } } }>(
      `{ user(username: "${user.username}") { wallet { transactions { edges { node { id adjustedBy { username } } } } } } }`,
      { token: admin.token },
    );
    expect(asAdmin.errors).toBeUndefined();
    expect(asAdmin.data?.user.wallet.transactions.edges.map((edge) => edge.node)).toEqual([{ id: transactionId, adjustedBy: { username: admin.username } }]);
    const asUser = await stack.graphql<{ me: { wallet: { transactions: { edges: { node: { id: string; description: string } }[] } } } }>(
      '{ me { wallet { transactions { edges { node { id description } } } } } }',
      { token: user.token },
    );
    expect(asUser.data?.me.wallet.transactions.edges.map((edge) => edge.node)).toEqual([{ id: transactionId, description: 'audit trail' }]);
  });
});

const ADJUST = `mutation ($input: AdjustWalletInput!) {
  adjustWallet(input: $input) { transaction { id kind amount { amount currencyCode } balanceAfter { amount } description } wallet { balance { amount } } }
}`;

interface Adjusted {
  adjustWallet: {
    transaction: { id: string; kind: string; amount: { amount: string }; balanceAfter: { amount: string }; description: string };
    wallet: { balance: { amount: string } };
  };
}

function adjust(username: string, kind: 'CREDIT' | 'DEBIT', amount: string, reason: string, idempotencyKey = randomUUID()) {
  return stack.graphql<Adjusted>(ADJUST, {
    token: admin.token,
    variables: { input: { username, amount: { amount, currencyCode: 'IRR' }, kind, reason, idempotencyKey } },
  });
}

const REPORT = `{ ledgerReport { balanced currencies { currencyCode walletsTotal { amount } giftCardsRedeemed { amount } spent { amount } adjustments { amount } imbalance { amount } } } }`;

interface Report {
  ledgerReport: {
    balanced: boolean;
    currencies: {
      currencyCode: string;
      walletsTotal: { amount: string };
      giftCardsRedeemed: { amount: string };
      spent: { amount: string };
      adjustments: { amount: string };
      imbalance: { amount: string };
    }[];
  };
}

/** The IRR line of the report, amounts as decimal strings. */
async function irrBooks() {
  const answer = await stack.graphql<Report>(REPORT, { token: admin.token });
  expect(answer.errors).toBeUndefined();
  const irr = answer.data?.ledgerReport.currencies.find((books) => books.currencyCode === 'IRR');
  return {
    balanced: answer.data?.ledgerReport.balanced,
    walletsTotal: BigInt(irr?.walletsTotal.amount ?? 'x'),
    giftCardsRedeemed: BigInt(irr?.giftCardsRedeemed.amount ?? 'x'),
    spent: BigInt(irr?.spent.amount ?? 'x'),
    adjustments: BigInt(irr?.adjustments.amount ?? 'x'),
    imbalance: irr?.imbalance.amount,
  };
}

describe('a wallet corrected by hand', () => {
  it('is credited and debited by an admin with the reason as the description, once per key, never below zero, and the books follow', async () => {
    const user = await stack.signUp();
    const { code } = await stack.issueGiftCard({ amount: '100' });
    expect((await activate(user, code)).data?.activateGiftCard.redemption.status).toBe('CREDITED');
    const before = await irrBooks();

    const key = randomUUID();
    const credited = await adjust(user.username.toUpperCase(), 'CREDIT', '25', '  goodwill for ticket 42 ', key);
    expect(credited.errors).toBeUndefined();
    expect(credited.data?.adjustWallet).toMatchObject({
      transaction: { kind: 'CREDIT', amount: { amount: '25', currencyCode: 'IRR' }, balanceAfter: { amount: '125' }, description: 'goodwill for ticket 42' },
      wallet: { balance: { amount: '125' } },
    });
    // The same key again, by this admin or another: the first result, no money moved twice.
    const again = await adjust(user.username, 'CREDIT', '25', 'goodwill for ticket 42', key);
    expect(again.data?.adjustWallet.transaction.id).toBe(credited.data?.adjustWallet.transaction.id);
    expect(again.data?.adjustWallet.wallet.balance.amount).toBe('125');
    const reused = await adjust(user.username, 'CREDIT', '26', 'goodwill for ticket 42', key);
    expect(codeOf(reused)).toBe('IDEMPOTENCY_KEY_REUSED');

    const overdraw = await adjust(user.username, 'DEBIT', '126', 'chargeback');
    expect(codeOf(overdraw)).toBe('INSUFFICIENT_FUNDS');
    const debited = await adjust(user.username, 'DEBIT', '40', 'chargeback of order 7');
    expect(debited.data?.adjustWallet).toMatchObject({ transaction: { kind: 'DEBIT', balanceAfter: { amount: '85' } }, wallet: { balance: { amount: '85' } } });

    expect(codeOf(await adjust('no_such_user_anywhere', 'CREDIT', '1', 'typo'))).toBe('BAD_USER_INPUT');
    expect(codeOf(await adjust(user.username, 'CREDIT', '0', 'nothing'))).toBe('BAD_USER_INPUT');
    expect(codeOf(await adjust(user.username, 'CREDIT', '1', '   '))).toBe('BAD_USER_INPUT');
    expect(
      codeOf(
        await stack.graphql(ADJUST, {
          token: admin.token,
          variables: {
            input: {
              username: user.username,
              amount: { amount: '1', currencyCode: 'USD' },
              kind: 'CREDIT',
              reason: 'wrong currency',
              idempotencyKey: randomUUID(),
            },
          },
        }),
      ),
    ).toBe('CURRENCY_MISMATCH');

    // Exactly the two adjustments moved money, and each has its other side on the adjustments account.
    const entries = await database.sql`select e.kind, e.amount::int as amount, e.description, s.account, s.amount::int as other_side
      from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id left join wallet.system_entries s on s.wallet_entry_id = e.id
      where w.owner_id = ${user.userId} order by e.seq`;
    expect(entries.map((row) => ({ ...row }))).toEqual([
      { kind: 'CREDIT', amount: 100, description: expect.stringMatching(/^Gift card/), account: 'GIFT_CARDS', other_side: -100 },
      { kind: 'CREDIT', amount: 25, description: 'goodwill for ticket 42', account: 'ADJUSTMENTS', other_side: -25 },
      { kind: 'DEBIT', amount: 40, description: 'chargeback of order 7', account: 'ADJUSTMENTS', other_side: 40 },
    ]);
    const after = await irrBooks();
    expect(after).toEqual({
      balanced: true,
      walletsTotal: before.walletsTotal - 15n,
      giftCardsRedeemed: before.giftCardsRedeemed,
      spent: before.spent,
      adjustments: before.adjustments - 15n,
      imbalance: '0',
    });
  });
});

describe('the books', () => {
  it('balance after credits, spends, transfers and adjustments, and say so in the same figures the database holds', async () => {
    const [alice, bob] = [await stack.signUp(), await stack.signUp()];
    const { code } = await stack.issueGiftCard({ amount: '500', usageLimit: 2 });
    for (const user of [alice, bob]) expect((await activate(user, code)).data?.activateGiftCard.redemption.status).toBe('CREDITED');
    const spend = await stack.graphql('mutation ($input: SpendInput!) { spend(input: $input) { wallet { balance { amount } } } }', {
      token: alice.token,
      variables: { input: { amount: { amount: '120', currencyCode: 'IRR' }, description: 'coffee', idempotencyKey: randomUUID() } },
    });
    expect(spend.errors).toBeUndefined();
    const transfer = await stack.graphql('mutation ($input: TransferInput!) { transfer(input: $input) { wallet { balance { amount } } } }', {
      token: bob.token,
      variables: { input: { toUsername: alice.username, amount: { amount: '80', currencyCode: 'IRR' }, idempotencyKey: randomUUID() } },
    });
    expect(transfer.errors).toBeUndefined();
    await adjust(alice.username, 'DEBIT', '30', 'duplicate refund');

    const books = await irrBooks();
    expect(books.balanced).toBe(true);
    expect(books.imbalance).toBe('0');
    expect(books.walletsTotal - books.giftCardsRedeemed + books.spent - books.adjustments).toBe(0n);
    // The same numbers as the database's own sums over this test database.
    const [held] = await database.sql`select sum(balance)::text as total from wallet.wallets where currency_code = 'IRR'`;
    expect(books.walletsTotal).toBe(BigInt(held?.total));
    expect((await assertBooksBalanced(database.sql)).find((row) => row.currencyCode === 'IRR')?.walletsTotal).toBe(String(books.walletsTotal));
  });

  it('balance at every read taken while credits, spends, transfers and adjustments run at once', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => stack.signUp()));
    const promotion = await stack.issueGiftCard({ amount: '50', usageLimit: users.length });
    const SPEND = 'mutation ($input: SpendInput!) { spend(input: $input) { transaction { id } } }';
    const TRANSFER = 'mutation ($input: TransferInput!) { transfer(input: $input) { transaction { id } } }';
    const first = users[0] as SignedIn;
    expect((await activate(first, promotion.code)).data?.activateGiftCard.redemption.status).toBe('CREDITED');
    let running = true;
    const reads: Awaited<ReturnType<typeof irrBooks>>[] = [];
    const reader = (async () => {
      while (running) reads.push(await irrBooks());
    })();
    await Promise.all(
      users.map(async (user, index) => {
        if (user !== first) expect((await activate(user, promotion.code)).data?.activateGiftCard.redemption.status).toBe('CREDITED');
        const next = users[(index + 1) % users.length] as SignedIn;
        for (let round = 0; round < 4; round += 1) {
          const answers = await Promise.all([
            stack.graphql(SPEND, {
              token: user.token,
              variables: { input: { amount: { amount: '2', currencyCode: 'IRR' }, description: 'coffee', idempotencyKey: randomUUID() } },
            }),
            stack.graphql(TRANSFER, {
              token: user.token,
              variables: { input: { toUsername: next.username, amount: { amount: '3', currencyCode: 'IRR' }, idempotencyKey: randomUUID() } },
            }),
            adjust(user.username, 'CREDIT', '1', 'goodwill under load'),
          ]);
          for (const answer of answers) expect(answer.errors).toBeUndefined();
        }
      }),
    );
    running = false;
    await reader;
    reads.push(await irrBooks());
    // Each read is one statement, one snapshot; each movement commits both its sides at once.
    expect(reads.length).toBeGreaterThan(2);
    expect(reads.filter((books) => books.balanced !== true || books.imbalance !== '0')).toEqual([]);
    await assertBooksBalanced(database.sql);
  });

  it('do not balance when a wallet entry lacks its other side, and the report says so', async () => {
    const user = await stack.signUp();
    // A credit written as before double entry, behind the service's back: one side only.
    await database.sql.begin(async (sql) => {
      const [wallet] = await sql`insert into wallet.wallets (owner_id, currency_code, balance) values (${user.userId}, 'IRR', 9) returning id`;
      await sql`insert into wallet.ledger_entries (wallet_id, kind, amount, balance_after, currency_code, description, operation) values (${wallet?.id}, 'CREDIT', 9, 9, 'IRR', 'one-sided', 'credit')`;
    });
    try {
      const books = await irrBooks();
      expect(books.balanced).toBe(false);
      expect(books.imbalance).toBe('9');
      expect((await booksOf(database.sql)).find((row) => row.currencyCode === 'IRR')?.entriesWithoutOtherSide).toBe(1);
    } finally {
      // Put the other side in, as the migration does for history, so the file's books balance again.
      await database.sql`insert into wallet.system_entries (wallet_entry_id, account, currency_code, amount)
        select e.id, 'GIFT_CARDS', 'IRR', -9 from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id where w.owner_id = ${user.userId}`;
    }
    expect((await irrBooks()).balanced).toBe(true);
  });
});
