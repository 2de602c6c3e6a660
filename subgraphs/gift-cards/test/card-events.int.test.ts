// The cards' audit log against a real PostgreSQL: issuing, disabling and enabling each record
// who, when and why in the same transaction as the change, a change that changes nothing
// records nothing, a refused reason changes nothing, the log is append-only, and the cards
// issued before the log existed get their history from the migration.

import { randomBytes, randomUUID } from 'node:crypto';
import { applyMigrations } from '@giftpay/common/db';
import { createEmptyDatabase, createTestDatabase, migrationsFolderUpTo, type TestDatabase } from '@giftpay/testing';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GIFT_CARDS_MIGRATIONS } from '../src/db/migrate.ts';
import * as schema from '../src/db/schema.ts';
import { createGiftCardsService, type GiftCardsService } from '../src/gift-cards.service.ts';

let database: TestDatabase;
let pool: postgres.Sql;
let cards: GiftCardsService;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = postgres(database.url, { max: 4, onnotice: () => {} });
  cards = createGiftCardsService({ db: drizzle(pool, { schema }), codeKey: randomBytes(32).toString('base64url'), defaultCurrency: 'IRR' });
});

afterAll(async () => {
  await pool?.end();
});

async function issueOne(issuedBy: string) {
  const [issued] = await cards.issue({ value: { minor: 1000n, currencyCode: 'IRR' }, count: 1, usageLimit: 1, issuedBy });
  if (!issued) throw new Error('nothing issued');
  return issued.giftCard;
}

function historyOf(cardId: string) {
  return database.sql`select action, actor_id, reason from gift_cards.card_events where gift_card_id = ${cardId} order by seq`.then((rows) =>
    rows.map((row) => ({ ...row })),
  );
}

describe('the cards audit log', () => {
  it('records each card of an issue, by its issuer, in the issue’s transaction', async () => {
    const issuer = `admin-${randomUUID()}`;
    const issued = await cards.issue({ value: { minor: 500n, currencyCode: 'IRR' }, count: 3, usageLimit: 1, issuedBy: issuer });
    expect(issued).toHaveLength(3);
    for (const { giftCard } of issued) expect(await historyOf(giftCard.id)).toEqual([{ action: 'ISSUED', actor_id: issuer, reason: null }]);
    const [row] = await database.sql`select count(*)::int as n from gift_cards.card_events where actor_id = ${issuer}`;
    expect(row?.n).toBe(3);
  });

  it('records a disable and an enable with who and why, and nothing for one that changes nothing', async () => {
    const card = await issueOne('issuer');
    const disabled = await cards.disable(card.id, { actorId: 'admin-a', reason: '  reported stolen  ' });
    expect(disabled.disabledAt).toBeInstanceOf(Date);
    // Disabled again: the first disable's time stays, and no second event.
    const again = await cards.disable(card.id, { actorId: 'admin-b', reason: 'twice' });
    expect(again.disabledAt).toEqual(disabled.disabledAt);
    const enabled = await cards.enable(card.id, { actorId: 'admin-b' });
    expect(enabled.disabledAt).toBeNull();
    await cards.enable(card.id, { actorId: 'admin-a', reason: 'already enabled' });
    expect(await historyOf(card.id)).toEqual([
      { action: 'ISSUED', actor_id: 'issuer', reason: null },
      { action: 'DISABLED', actor_id: 'admin-a', reason: 'reported stolen' },
      { action: 'ENABLED', actor_id: 'admin-b', reason: null },
    ]);
    const events = await cards.eventsOfCard(card.id);
    const [stored] = await database.sql`select created_at from gift_cards.card_events where gift_card_id = ${card.id} and action = 'DISABLED'`;
    expect(events[1]?.createdAt).toEqual(stored?.created_at);
    expect(events[1]?.createdAt.getTime()).toBe(disabled.disabledAt?.getTime());
  });

  it.each([
    ['blank', '   '],
    ['too long', 'x'.repeat(201)],
    ['with a control character', 'line one\nline two'],
    ['with a lone surrogate', 'broken \ud83d text'],
  ])('refuses a reason that is %s with BAD_USER_INPUT, and changes nothing', async (_name, reason) => {
    const card = await issueOne('issuer');
    await expect(cards.disable(card.id, { actorId: 'admin-a', reason })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    const [row] = await database.sql`select disabled_at from gift_cards.gift_cards where id = ${card.id}`;
    expect(row?.disabled_at).toBeNull();
    expect(await historyOf(card.id)).toEqual([{ action: 'ISSUED', actor_id: 'issuer', reason: null }]);
  });

  it('answers GIFT_CARD_NOT_FOUND for an id no card has, and records nothing', async () => {
    const id = randomUUID();
    await expect(cards.disable(id, { actorId: 'admin-a' })).rejects.toMatchObject({ code: 'GIFT_CARD_NOT_FOUND' });
    await expect(cards.enable(id, { actorId: 'admin-a' })).rejects.toMatchObject({ code: 'GIFT_CARD_NOT_FOUND' });
    expect(await historyOf(id)).toEqual([]);
  });

  it('records one event when two admins disable the same card at once', async () => {
    const card = await issueOne('issuer');
    await Promise.all(['admin-a', 'admin-b', 'admin-c', 'admin-d'].map((actorId) => cards.disable(card.id, { actorId })));
    const history = await historyOf(card.id);
    expect(history.map((event) => event.action)).toEqual(['ISSUED', 'DISABLED']);
  });

  it('is append-only: an update, a delete or a truncate is refused', async () => {
    const card = await issueOne('issuer');
    await expect(database.sql`update gift_cards.card_events set actor_id = 'someone else' where gift_card_id = ${card.id}`).rejects.toThrow(/append-only/);
    await expect(database.sql`delete from gift_cards.card_events where gift_card_id = ${card.id}`).rejects.toThrow(/append-only/);
    await expect(database.sql`truncate gift_cards.card_events`).rejects.toThrow(/append-only/);
    expect(await historyOf(card.id)).toEqual([{ action: 'ISSUED', actor_id: 'issuer', reason: null }]);
  });

  it('pages the whole log newest first, filtered by action, to its end', async () => {
    // Disables of the test's own, the newest of the log, among events the filter must leave
    // out: each card's issue between them, and an enable after them.
    const mine: string[] = [];
    for (const actorId of ['pager-1', 'pager-2', 'pager-3']) {
      const card = await issueOne('issuer');
      await cards.disable(card.id, { actorId });
      mine.push(card.id);
    }
    await cards.enable(mine[0] as string, { actorId: 'pager-1' });
    // Two a page, to the end, as a client pages: each page asks for one more to know whether another follows.
    type Event = Awaited<ReturnType<GiftCardsService['listEvents']>>[number];
    const events: Event[] = [];
    for (let before: bigint | null = null; ; ) {
      const page = await cards.listEvents(2, before, 'DISABLED');
      events.push(...page.slice(0, 2));
      if (page.length <= 2) break;
      before = (page[1] as Event).seq;
    }
    expect(events.map((event) => event.action)).toEqual(Array(events.length).fill('DISABLED'));
    // Newest first: the test's three, the last disabled first.
    expect(events.slice(0, 3).map((event) => ({ card: event.giftCardId, actor: event.actorId }))).toEqual([
      { card: mine[2], actor: 'pager-3' },
      { card: mine[1], actor: 'pager-2' },
      { card: mine[0], actor: 'pager-1' },
    ]);
    // Each event once, in strictly falling order, and all of them.
    const seqs = events.map((event) => event.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(await cards.countEvents('DISABLED')).toBe(events.length);
  });
});

describe('cards issued before the audit log', () => {
  it('get their history from the migration: issued by their issuer, disabled by an admin no one recorded', async () => {
    const empty = await createEmptyDatabase();
    const before = await migrationsFolderUpTo(GIFT_CARDS_MIGRATIONS.migrationsFolder, '0005_claim_slot_shards');
    await applyMigrations(empty.url, { ...GIFT_CARDS_MIGRATIONS, migrationsFolder: before });
    const [kept, disabled] = await empty.sql<{ id: string }[]>`
      insert into gift_cards.gift_cards (code_hash, last4, value_amount, currency_code, usage_limit, created_by, created_at, disabled_at)
      values (${randomUUID()}, 'OLD1', 10, 'IRR', 1, 'issuer-1', '2026-01-02T03:04:05Z', null),
             (${randomUUID()}, 'OLD2', 10, 'IRR', 1, 'issuer-2', '2026-01-03T00:00:00Z', '2026-02-01T00:00:00Z')
      returning id`;

    await applyMigrations(empty.url, GIFT_CARDS_MIGRATIONS);

    const events = await empty.sql`
      select gift_card_id, action, actor_id, reason, created_at from gift_cards.card_events order by seq`;
    expect(events.map((row) => ({ ...row }))).toEqual([
      { gift_card_id: kept?.id, action: 'ISSUED', actor_id: 'issuer-1', reason: null, created_at: new Date('2026-01-02T03:04:05Z') },
      { gift_card_id: disabled?.id, action: 'ISSUED', actor_id: 'issuer-2', reason: null, created_at: new Date('2026-01-03T00:00:00Z') },
      { gift_card_id: disabled?.id, action: 'DISABLED', actor_id: null, reason: null, created_at: new Date('2026-02-01T00:00:00Z') },
    ]);
  });
});
