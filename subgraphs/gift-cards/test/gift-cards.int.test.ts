// The gift-cards subgraph's services against a real PostgreSQL, crediting a real wallet
// server: issuing in bulk, what is stored, chosen codes, expiry and the claim rules.

import { type Listening, listen } from '@giftpay/common';
import { addressNobodyListensOn, createTestDatabase, errorCodeOf, ledgerCreditsOf, type TestDatabase, testEnv } from '@giftpay/testing';
import { createServer as createWallet, type WalletServer } from '@giftpay/wallet';
import { loadConfig as loadWalletConfig } from '@giftpay/wallet/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createServer, type GiftCardsServer } from '../src/server.ts';

let database: TestDatabase;
let wallet: WalletServer;
let walletListening: Listening;
let giftCards: GiftCardsServer;

beforeAll(async () => {
  database = await createTestDatabase();
  // The wallet verifies tokens against accounts' JWKS; these tests never send one.
  const env = testEnv(database.url, { ACCOUNTS_URL: await addressNobodyListensOn() });
  wallet = await createWallet({ config: loadWalletConfig(env) });
  walletListening = await listen(wallet.server, 0, '127.0.0.1');
  giftCards = await createServer({ config: loadConfig({ ...env, WALLET_URL: walletListening.url }), startRelay: false });
});

afterAll(async () => {
  await giftCards?.close();
  await walletListening?.close();
  await wallet?.close();
});

const irr = (minor: bigint) => ({ minor, currencyCode: 'IRR' });

describe('issuing', () => {
  it('issues 10,000 cards in one call, each with its own code, storing only a keyed hash and the last four characters', async () => {
    const issued = await giftCards.cards.issue({ value: irr(1000n), count: 10_000, usageLimit: 1, issuedBy: 'admin' });
    expect(issued).toHaveLength(10_000);
    expect(new Set(issued.map((card) => card.code)).size).toBe(10_000);
    for (const { code, giftCard } of issued.slice(0, 50)) {
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
      expect(giftCard.last4).toBe(code.replaceAll('-', '').slice(-4));
    }
    const sample = issued[1234]?.code.replaceAll('-', '') ?? '';
    const leaks = await database.sql`select count(*)::int as n from gift_cards.gift_cards g where g::text ilike ${`%${sample}%`}`;
    expect(leaks[0]?.n).toBe(0);
    const [stored] = await database.sql`select count(*)::int as n from gift_cards.gift_cards where id = any(${issued.map((card) => card.giftCard.id)}::uuid[])`;
    expect(stored?.n).toBe(10_000);
  });

  it('refuses a count out of range, a chosen code with count above 1, a past expiry and another currency', async () => {
    expect(await errorCodeOf(giftCards.cards.issue({ value: irr(1n), count: 0, usageLimit: 1, issuedBy: 'a' }))).toBe('BAD_USER_INPUT');
    expect(await errorCodeOf(giftCards.cards.issue({ value: irr(1n), count: 10_001, usageLimit: 1, issuedBy: 'a' }))).toBe('BAD_USER_INPUT');
    expect(await errorCodeOf(giftCards.cards.issue({ value: irr(1n), count: 2, usageLimit: 1, code: 'PROMO-2026', issuedBy: 'a' }))).toBe('BAD_USER_INPUT');
    expect(await errorCodeOf(giftCards.cards.issue({ value: irr(1n), count: 1, usageLimit: 1, expiresAt: new Date(Date.now() - 1000), issuedBy: 'a' }))).toBe(
      'BAD_USER_INPUT',
    );
    expect(await errorCodeOf(giftCards.cards.issue({ value: { minor: 100n, currencyCode: 'USD' }, count: 1, usageLimit: 1, issuedBy: 'a' }))).toBe(
      'CURRENCY_MISMATCH',
    );
  });

  it('accepts a chosen promotional code once, in any spelling', async () => {
    const [promo] = await giftCards.cards.issue({ value: irr(100n), count: 1, usageLimit: 3, code: 'Winter-Sale-26', issuedBy: 'a' });
    expect(promo?.code).toBe('WINTER-SALE-26');
    expect(promo?.giftCard.last4).toBe('LE26');
    expect(await errorCodeOf(giftCards.cards.issue({ value: irr(100n), count: 1, usageLimit: 1, code: 'wintersale26', issuedBy: 'a' }))).toBe('BAD_USER_INPUT');
    const activation = await giftCards.redemptions.activate('user-1', 'winter sale 26');
    expect(activation.redemption.status).toBe('CREDITED');
  });

  it('accepts a chosen code of 6 characters with a dash, as the contract allows, and finds it spelled without the dash', async () => {
    const [promo] = await giftCards.cards.issue({ value: irr(40n), count: 1, usageLimit: 2, code: 'win-26', issuedBy: 'a' });
    expect(promo?.code).toBe('WIN-26');
    expect(promo?.giftCard.last4).toBe('IN26');
    expect((await giftCards.redemptions.activate('user-short-code', 'win26')).redemption.status).toBe('CREDITED');
  });
});

describe('claiming', () => {
  it('refuses an expired card with GIFT_CARD_EXPIRED and keeps its count', async () => {
    const [card] = await giftCards.cards.issue({ value: irr(10n), count: 1, usageLimit: 1, expiresAt: new Date(Date.now() + 60_000), issuedBy: 'a' });
    await database.sql`update gift_cards.gift_cards set expires_at = now() - interval '1 second' where id = ${card?.giftCard.id ?? ''}`;
    expect(await errorCodeOf(giftCards.redemptions.activate('user-2', card?.code ?? ''))).toBe('GIFT_CARD_EXPIRED');
    const refreshed = await giftCards.cards.findById(card?.giftCard.id ?? '');
    expect(refreshed?.redemptionCount).toBe(0);
    const [redemptions] = await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${card?.giftCard.id ?? ''}`;
    expect(redemptions?.n).toBe(0);
  });

  it('lets each of the first N distinct users of a promotion redeem once, with an exact count', async () => {
    const [promo] = await giftCards.cards.issue({ value: irr(25n), count: 1, usageLimit: 4, issuedBy: 'a' });
    const code = promo?.code ?? '';
    const users = Array.from({ length: 10 }, (_, index) => `promo-user-${index}`);
    const outcomes = await Promise.all(
      users.flatMap((user) => [errorCodeOf(giftCards.redemptions.activate(user, code)), errorCodeOf(giftCards.redemptions.activate(user, code))]),
    );
    expect(outcomes.filter((outcome) => outcome === null)).toHaveLength(4);
    expect(outcomes.filter((outcome) => outcome !== null).every((outcome) => outcome === 'GIFT_CARD_USED_UP' || outcome === 'GIFT_CARD_ALREADY_REDEEMED')).toBe(
      true,
    );
    const card = await giftCards.cards.findById(promo?.giftCard.id ?? '');
    expect(card?.redemptionCount).toBe(4);
    const [credited] = await database.sql`select count(distinct user_id)::int as users, sum(amount)::bigint as total from gift_cards.redemptions
      where gift_card_id = ${promo?.giftCard.id ?? ''} and status = 'CREDITED'`;
    expect(credited?.users).toBe(4);
    expect(BigInt(credited?.total)).toBe(100n);
    // Computed from the answers, read from the ledger of these users only: one credit per successful claim.
    const claimedBy = users.filter((_, index) => outcomes[2 * index] === null || outcomes[2 * index + 1] === null);
    expect(claimedBy).toHaveLength(4);
    expect(await ledgerCreditsOf(database.sql, users)).toEqual({
      credits: 4,
      total: 25n * BigInt(claimedBy.length),
      owners: 4,
      mostPerOwner: 1,
      duplicateKeys: 0,
    });
  });
});
