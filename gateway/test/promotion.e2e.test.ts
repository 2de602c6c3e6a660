// The flagship case: a promotional code for the first N users, hit by many more users at
// once, through the gateway: exactly N credits, none twice, none lost, also when the link
// to the wallet fails in the middle of the burst.

import { createTestDatabase, type SignedIn, type Stack, startStack, type TestDatabase } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let database: TestDatabase;
let stack: Stack;
let admin: SignedIn;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url, faultyWalletLink: true, env: { WALLET_CREDIT_TIMEOUT_MS: '400', DB_POOL_MAX: '20' } });
  admin = await stack.logInAdmin();
});

afterAll(async () => {
  await stack?.close();
});

interface Activation {
  activateGiftCard: { redemption: { id: string; status: string }; giftCard: { id: string; redemptionCount: number; usageLimit: number } };
}

const ACTIVATE = `mutation ($code: String!) {
  activateGiftCard(input: { code: $code }) { redemption { id status } giftCard { id redemptionCount usageLimit } }
}`;

async function issuePromotion(amount: string, usageLimit: number): Promise<{ code: string; id: string }> {
  return stack.issueGiftCard({ amount, usageLimit });
}

async function signUpMany(count: number): Promise<SignedIn[]> {
  const users: SignedIn[] = [];
  for (let start = 0; start < count; start += 100)
    users.push(...(await Promise.all(Array.from({ length: Math.min(100, count - start) }, () => stack.signUp()))));
  return users;
}

async function burst(users: SignedIn[], code: string) {
  return Promise.all(users.map((user) => stack.graphql<Activation>(ACTIVATE, { token: user.token, variables: { code } })));
}

/** Credits in the wallet's ledger for this card's redemptions: how many, how much, and how many users got more than one. */
async function ledgerCreditsFor(cardId: string): Promise<{ credits: number; total: bigint; doubled: number }> {
  const [row] = await database.sql`
    select count(*)::int as credits, coalesce(sum(e.amount), 0)::bigint as total,
      (select count(*) from (select w.owner_id from wallet.ledger_entries e2 join wallet.wallets w on w.id = e2.wallet_id
        join gift_cards.redemptions r2 on e2.idempotency_key = 'gift-card-redemption:' || r2.id
        where r2.gift_card_id = ${cardId} group by w.owner_id having count(*) > 1) d)::int as doubled
    from wallet.ledger_entries e join gift_cards.redemptions r on e.idempotency_key = 'gift-card-redemption:' || r.id
    where r.gift_card_id = ${cardId} and e.operation = 'credit'`;
  return { credits: row?.credits ?? -1, total: BigInt(row?.total ?? -1), doubled: row?.doubled ?? -1 };
}

async function settleOwedCredits(): Promise<void> {
  for (let pass = 0; pass < 10 && (await stack.giftCards.server.redemptions.pendingCount()) > 0; pass += 1) {
    await database.sql`update gift_cards.redemptions set next_attempt_at = now() where status = 'PENDING'`;
    await stack.giftCards.server.redemptions.relayOnce();
  }
}

describe('a promotion for the first 100 users, hit by 500 at once', () => {
  it('credits exactly 100 distinct users once each and refuses the other 400 with GIFT_CARD_USED_UP', async () => {
    const promo = await issuePromotion('1000000', 100);
    const users = await signUpMany(500);
    const results = await burst(users, promo.code);

    // A claim is answered CREDITED, or PENDING when the busy wallet did not confirm within this
    // stack's short (400 ms) credit timeout; either way the slot is taken.
    const claimed = results.filter((result) => result.data?.activateGiftCard.redemption);
    const usedUp = results.filter((result) => result.errors?.[0]?.extensions?.code === 'GIFT_CARD_USED_UP');
    expect(claimed).toHaveLength(100);
    expect(usedUp).toHaveLength(400);
    expect(claimed.every((result) => ['CREDITED', 'PENDING'].includes(result.data?.activateGiftCard.redemption.status ?? ''))).toBe(true);
    // Each claim saw a different count: the slots were handed out one by one.
    expect(new Set(claimed.map((result) => result.data?.activateGiftCard.giftCard.redemptionCount)).size).toBe(100);

    await settleOwedCredits();
    const [statuses] = await database.sql`select count(*) filter (where status = 'CREDITED')::int as credited, count(*)::int as total
      from gift_cards.redemptions where gift_card_id = ${promo.id}`;
    expect(statuses).toEqual({ credited: 100, total: 100 });

    const card = await stack.graphql<{ giftCard: { redemptionCount: number; status: string } }>(
      'query ($id: ID!) { giftCard(id: $id) { redemptionCount status } }',
      {
        token: admin.token,
        variables: { id: promo.id },
      },
    );
    expect(card.data?.giftCard).toEqual({ redemptionCount: 100, status: 'USED_UP' });
    expect(await ledgerCreditsFor(promo.id)).toEqual({ credits: 100, total: 100_000_000n, doubled: 0 });
    const [wallets] =
      await database.sql`select coalesce(sum(balance), 0)::bigint as total from wallet.wallets where owner_id in ${database.sql(users.map((user) => user.userId))}`;
    expect(BigInt(wallets?.total)).toBe(100_000_000n);
  });
});

describe('an expiring promotion', () => {
  it('is redeemable until expiresAt and then refused with GIFT_CARD_EXPIRED, its status EXPIRED', async () => {
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const issued = await stack.graphql<{ issueGiftCards: { giftCards: { code: string; giftCard: { id: string; expiresAt: string } }[] } }>(
      'mutation ($input: IssueGiftCardsInput!) { issueGiftCards(input: $input) { giftCards { code giftCard { id expiresAt } } } }',
      { token: admin.token, variables: { input: { value: { amount: '5', currencyCode: 'IRR' }, usageLimit: 10, expiresAt } } },
    );
    const card = issued.data?.issueGiftCards.giftCards[0];
    expect(card?.giftCard.expiresAt).toBe(expiresAt);
    const [early, late] = await signUpMany(2);
    const before = await stack.graphql<Activation>(ACTIVATE, { token: early?.token, variables: { code: card?.code } });
    expect(before.data?.activateGiftCard.redemption.status).toBe('CREDITED');
    // Time passes: the card's expiry is now behind us.
    await database.sql`update gift_cards.gift_cards set expires_at = now() - interval '1 second' where id = ${card?.giftCard.id ?? ''}`;
    const after = await stack.graphql(ACTIVATE, { token: late?.token, variables: { code: card?.code } });
    expect(after.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_EXPIRED');
    const status = await stack.graphql<{ giftCard: { status: string; redemptionCount: number } }>(
      'query ($id: ID!) { giftCard(id: $id) { status redemptionCount } }',
      {
        token: admin.token,
        variables: { id: card?.giftCard.id },
      },
    );
    expect(status.data?.giftCard).toEqual({ status: 'EXPIRED', redemptionCount: 1 });
  });
});

describe('when the link to the wallet fails during the burst', () => {
  it('answers every claim, and after the relay the ledger holds exactly one credit per claim, when the wallet credited but its answer was lost', async () => {
    const promo = await issuePromotion('500', 40);
    const users = await signUpMany(90);
    const link = stack.walletLink;
    if (!link) throw new Error('no faulty link');
    link.mode = 'lose-response';
    const results = await burst(users, promo.code);
    const pending = results.filter((result) => result.data?.activateGiftCard.redemption.status === 'PENDING');
    expect(pending).toHaveLength(40);
    expect(results.filter((result) => result.errors?.[0]?.extensions?.code === 'GIFT_CARD_USED_UP')).toHaveLength(50);
    // The wallet did the work: every claim is already credited once, though gift-cards does not know it yet.
    expect((await ledgerCreditsFor(promo.id)).credits).toBe(40);

    link.mode = 'pass';
    await settleOwedCredits();
    expect(await stack.giftCards.server.redemptions.pendingCount()).toBe(0);
    expect(await ledgerCreditsFor(promo.id)).toEqual({ credits: 40, total: 20_000n, doubled: 0 });
    const [statuses] =
      await database.sql`select count(*) filter (where status = 'CREDITED')::int as credited from gift_cards.redemptions where gift_card_id = ${promo.id}`;
    expect(statuses?.credited).toBe(40);
  });

  it('answers PENDING within the timeout when the wallet hangs, then credits once the wallet answers again', async () => {
    const promo = await issuePromotion('700', 10);
    const users = await signUpMany(15);
    const link = stack.walletLink;
    if (!link) throw new Error('no faulty link');
    link.mode = 'hang';
    // The link never answers: only the credit timeout can let these requests finish.
    const results = await burst(users, promo.code);
    expect(results.filter((result) => result.data?.activateGiftCard.redemption.status === 'PENDING')).toHaveLength(10);
    expect((await ledgerCreditsFor(promo.id)).credits).toBe(0);

    link.mode = 'pass';
    await settleOwedCredits();
    expect(await ledgerCreditsFor(promo.id)).toEqual({ credits: 10, total: 7000n, doubled: 0 });
  });

  it('keeps claims answered and credits exact when the wallet refuses part of the burst', async () => {
    const promo = await issuePromotion('300', 30);
    const users = await signUpMany(60);
    const link = stack.walletLink;
    if (!link) throw new Error('no faulty link');
    const first = burst(users.slice(0, 30), promo.code);
    link.mode = 'refuse';
    const second = burst(users.slice(30), promo.code);
    const results = [...(await first), ...(await second)];
    link.mode = 'pass';
    const claimed = results.filter((result) => result.data?.activateGiftCard.redemption);
    expect(claimed).toHaveLength(30);
    expect(results.filter((result) => result.errors?.[0]?.extensions?.code === 'GIFT_CARD_USED_UP')).toHaveLength(30);
    await settleOwedCredits();
    expect(await ledgerCreditsFor(promo.id)).toEqual({ credits: 30, total: 9000n, doubled: 0 });
  });
});
