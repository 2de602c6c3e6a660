// Money at the edge: an amount larger than GiftPay moves at once is refused where it enters,
// before anything is issued, claimed or moved; a balance never passes its maximum; and a
// credit the wallet refuses for good is parked (reason kept, counted, logged) instead of
// being retried without end, while the relay goes on with the rest.

import { MAX_AMOUNT_MINOR, MAX_BALANCE_MINOR } from '@giftpay/common';
import { createTestDatabase, type SignedIn, type Stack, seriesValue, startStack, type TestDatabase } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let database: TestDatabase;
let stack: Stack;
let admin: SignedIn;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url, faultyWalletLink: true });
  admin = await stack.logInAdmin();
});

afterAll(async () => {
  await stack?.close();
});

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { id status } wallet { balance { amount } } } }';
const SPEND = 'mutation ($input: SpendInput!) { spend(input: $input) { transaction { id } } }';
const TRANSFER = 'mutation ($input: TransferInput!) { transfer(input: $input) { transaction { id } } }';

async function balanceOf(user: SignedIn): Promise<string | undefined> {
  return (await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token })).data?.me
    .wallet.balance.amount;
}

async function entriesOf(user: SignedIn): Promise<number> {
  const [row] =
    await database.sql`select count(*)::int as n from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id where w.owner_id = ${user.userId}`;
  return row?.n ?? -1;
}

describe('an amount larger than GiftPay moves at once', () => {
  const tooLarge = (MAX_AMOUNT_MINOR + 1n).toString();

  it('is refused for a card with BAD_USER_INPUT, and no card is issued', async () => {
    const [before] = await database.sql`select count(*)::int as n from gift_cards.gift_cards`;
    const answer = await stack.graphql('mutation ($input: IssueGiftCardsInput!) { issueGiftCards(input: $input) { giftCards { code } } }', {
      token: admin.token,
      variables: { input: { value: { amount: tooLarge, currencyCode: 'IRR' } } },
    });
    expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(answer.errors?.[0]?.message).toMatch(/too large: at most 1000000000000000 IRR/);
    const [after] = await database.sql`select count(*)::int as n from gift_cards.gift_cards`;
    expect(after?.n).toBe(before?.n);
  });

  it('is refused for a spend and a transfer with BAD_USER_INPUT, and nothing moves', async () => {
    const [payer, payee] = [await stack.signUp(), await stack.signUp()];
    const { code } = await stack.issueGiftCard({ amount: '100' });
    await stack.graphql(ACTIVATE, { token: payer.token, variables: { code } });
    const spend = await stack.graphql(SPEND, {
      token: payer.token,
      variables: { input: { amount: { amount: tooLarge, currencyCode: 'IRR' }, description: 'too much', idempotencyKey: 'too-much-spend' } },
    });
    expect(spend.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const transfer = await stack.graphql(TRANSFER, {
      token: payer.token,
      variables: { input: { toUsername: payee.username, amount: { amount: tooLarge, currencyCode: 'IRR' }, idempotencyKey: 'too-much-transfer' } },
    });
    expect(transfer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect([await balanceOf(payer), await balanceOf(payee)]).toEqual(['100', '0']);
    expect(await entriesOf(payer)).toBe(1);
  });
});

describe('a wallet at its largest balance', () => {
  it('refuses a transfer into it with BAD_USER_INPUT and moves nothing, and parks a card credit it refuses, going on with the rest', async () => {
    const rich = await stack.signUp();
    // Ten cards of the largest amount take the wallet exactly to its largest balance.
    const cards = MAX_BALANCE_MINOR / MAX_AMOUNT_MINOR;
    for (let card = 0n; card < cards; card += 1n) {
      const { code } = await stack.issueGiftCard({ amount: MAX_AMOUNT_MINOR.toString() });
      const answer = await stack.graphql<{ activateGiftCard: { redemption: { status: string } } }>(ACTIVATE, { token: rich.token, variables: { code } });
      expect(answer.data?.activateGiftCard.redemption.status).toBe('CREDITED');
    }
    expect(await balanceOf(rich)).toBe(MAX_BALANCE_MINOR.toString());

    const payer = await stack.signUp();
    const { code: payerCard } = await stack.issueGiftCard({ amount: '50' });
    await stack.graphql(ACTIVATE, { token: payer.token, variables: { code: payerCard } });
    const transfer = await stack.graphql(TRANSFER, {
      token: payer.token,
      variables: { input: { toUsername: rich.username, amount: { amount: '1', currencyCode: 'IRR' }, idempotencyKey: 'into-the-full-wallet' } },
    });
    expect(transfer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(transfer.errors?.[0]?.message).toMatch(/largest balance/);
    expect([await balanceOf(payer), await balanceOf(rich)]).toEqual(['50', MAX_BALANCE_MINOR.toString()]);
    expect(await entriesOf(payer)).toBe(1);

    const metricsBefore = await (await fetch(`${stack.giftCards.listening.url}/metrics`)).text();
    const { code: oneMore } = await stack.issueGiftCard({ amount: '1' });
    const claim = await stack.graphql<{ activateGiftCard: { redemption: { id: string; status: string }; wallet: { balance: { amount: string } } } }>(ACTIVATE, {
      token: rich.token,
      variables: { code: oneMore },
    });
    // The slot is taken, and the user told so; the credit cannot be applied, and the wallet
    // (read from the wallet, as no credit answered with it) holds what it held.
    expect(claim.data?.activateGiftCard.redemption.status).toBe('PENDING');
    expect(claim.errors).toBeUndefined();
    expect(claim.data?.activateGiftCard.wallet.balance.amount).toBe(MAX_BALANCE_MINOR.toString());
    const id = claim.data?.activateGiftCard.redemption.id as string;
    const [parked] = await database.sql`select status, attempts, parked_at is not null as parked, last_error from gift_cards.redemptions where id = ${id}`;
    expect(parked).toMatchObject({ status: 'PENDING', attempts: 1, parked: true });
    expect(parked?.last_error).toMatch(/^the wallet refused the credit \(422 BAD_USER_INPUT\): .*largest balance/);
    const metrics = await (await fetch(`${stack.giftCards.listening.url}/metrics`)).text();
    expect(seriesValue(metrics, 'giftcard_credits_parked')).toBe((seriesValue(metricsBefore, 'giftcard_credits_parked') ?? 0) + 1);
    expect(
      (seriesValue(metrics, 'giftcard_credit_deliveries_total', { result: 'parked' }) ?? 0) -
        (seriesValue(metricsBefore, 'giftcard_credit_deliveries_total', { result: 'parked' }) ?? 0),
    ).toBe(1);

    // Another credit owed at the same time is delivered by the relay; the parked one is left alone.
    const other = await stack.signUp();
    const { code: otherCard } = await stack.issueGiftCard({ amount: '7' });
    const link = stack.walletLink;
    if (!link) throw new Error('no faulty link');
    link.mode = 'refuse';
    try {
      const owed = await stack.graphql<{ activateGiftCard: { redemption: { status: string } } }>(ACTIVATE, {
        token: other.token,
        variables: { code: otherCard },
      });
      expect(owed.data?.activateGiftCard.redemption.status).toBe('PENDING');
    } finally {
      link.mode = 'pass';
    }
    // Wait, in real time, until the other credit's back-off has passed.
    for (let waited = 0; waited < 100; waited += 1) {
      const [due] = await database.sql`select count(*)::int as n from gift_cards.redemptions where user_id = ${other.userId} and next_attempt_at <= now()`;
      if (due?.n === 1) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(await stack.giftCards.server.redemptions.relayOnce()).toBe(1);
    expect(await balanceOf(other)).toBe('7');
    const [still] = await database.sql`select attempts, parked_at is not null as parked from gift_cards.redemptions where id = ${id}`;
    expect(still).toEqual({ attempts: 1, parked: true });
    expect(await balanceOf(rich)).toBe(MAX_BALANCE_MINOR.toString());
  });
});
