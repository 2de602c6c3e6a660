// The internal credit route as the gift-cards service calls it, over real HTTP against a real
// wallet server and PostgreSQL: a credit, its replay, a key reused with another input, and
// malformed requests, each with the ledger checked in SQL for the test's own owner.
// (Calls without the service credential are covered in gateway/test/authentication.e2e.test.ts.)

import { randomUUID } from 'node:crypto';
import { type Listening, listen, MAX_AMOUNT_MINOR, SERVICE_TOKEN_HEADER } from '@giftpay/common';
import {
  addressNobodyListensOn,
  assertLedgerMatchesResponses,
  createTestDatabase,
  holdWalletRow,
  injectLedgerInsertFault,
  ledgerEntriesOf,
  type TestDatabase,
  testEnv,
  walletsOf,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import {
  type BalanceResponse,
  type CreditBatchResponse,
  type CreditResponse,
  INTERNAL_BALANCE_PATH,
  INTERNAL_CREDIT_BATCH_PATH,
  INTERNAL_CREDIT_PATH,
  MAX_CREDITS_PER_BATCH,
} from '../src/internal-credit.route.ts';
import { createServer, type WalletServer } from '../src/server.ts';

let database: TestDatabase;
let server: WalletServer;
let listening: Listening;
let serviceToken: string;

beforeAll(async () => {
  database = await createTestDatabase();
  // No accounts service here: the route needs none, and its key set is never asked for.
  const config = loadConfig(testEnv(database.url, { ACCOUNTS_URL: await addressNobodyListensOn() }));
  serviceToken = config.internalApiToken;
  server = await createServer({ config });
  listening = await listen(server.server, config.port, config.host);
});

afterAll(async () => {
  await listening?.close();
  await server?.close();
});

async function post(path: string, body: unknown, token: string | null = serviceToken): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${listening.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { [SERVICE_TOKEN_HEADER]: token }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const postAlone = (body: unknown) => post(INTERNAL_CREDIT_PATH, body);

/**
 * The same credit sent as a batch of one: answered with the single route's status and body
 * (its one result), or the call's own answer when the call itself is refused.
 */
async function postInBatch(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  let credit: unknown = body;
  if (typeof body === 'string') {
    try {
      credit = JSON.parse(body);
    } catch {
      return post(INTERNAL_CREDIT_BATCH_PATH, body);
    }
  }
  const answer = await post(INTERNAL_CREDIT_BATCH_PATH, { credits: [credit] });
  if (answer.status !== 200) return answer;
  const { results } = answer.body as unknown as CreditBatchResponse;
  expect(results).toHaveLength(1);
  return results[0] as { status: number; body: Record<string, unknown> };
}

/** The single route, everywhere but in the route tests, which run against both. */
let postCredit = postAlone;

function creditBody(overrides: Record<string, unknown> = {}) {
  return { ownerId: randomUUID(), amountMinor: '1500', currencyCode: 'IRR', description: 'Gift card …AB12', idempotencyKey: randomUUID(), ...overrides };
}

describe.each([
  ['the internal credit route', postAlone],
  ['a batch of one credit', postInBatch],
])('%s', (_name, send) => {
  beforeAll(() => {
    postCredit = send;
  });
  afterAll(() => {
    postCredit = postAlone;
  });

  it('credits the wallet and answers with the transaction, the wallet and the balance after it', async () => {
    const body = creditBody();
    const response = await postCredit(body);
    expect(response.status).toBe(200);
    const answer = response.body as unknown as CreditResponse;
    expect(answer).toEqual({ transactionId: expect.any(String), walletId: expect.any(String), balanceMinor: '1500', replayed: false });
    const [entry, ...others] = await ledgerEntriesOf(database.sql, { ownerIds: [body.ownerId] });
    expect(others).toEqual([]);
    expect(entry).toMatchObject({
      id: answer.transactionId,
      walletId: answer.walletId,
      kind: 'CREDIT',
      operation: 'credit',
      amount: 1500n,
      balanceAfter: 1500n,
      idempotencyKey: body.idempotencyKey,
      description: 'Gift card …AB12',
    });
    await assertLedgerMatchesResponses(
      database.sql,
      [{ operation: 'credit', ownerId: body.ownerId, key: body.idempotencyKey, amount: 1500n, transactionId: answer.transactionId }],
      { ownerIds: [body.ownerId] },
    );
  });

  it('answers a replay of the same key and input with the same transaction, marked replayed, and credits once, also when the replays arrive together', async () => {
    const body = creditBody();
    const first = await postCredit(body);
    expect(first.status).toBe(200);
    const again = await postCredit(body);
    expect(again).toEqual({ status: 200, body: { ...first.body, replayed: true } });
    const together = await Promise.all(Array.from({ length: 10 }, () => postCredit(body)));
    expect(together).toEqual(Array.from({ length: 10 }, () => ({ status: 200, body: { ...first.body, replayed: true } })));
    const { entries } = await assertLedgerMatchesResponses(
      database.sql,
      [first, again, ...together].map((response) => ({
        operation: 'credit' as const,
        ownerId: body.ownerId,
        key: body.idempotencyKey,
        amount: 1500n,
        transactionId: String(response.body.transactionId),
      })),
      { ownerIds: [body.ownerId] },
    );
    expect(entries).toHaveLength(1);
  });

  it('credits once when the first request and its retries all arrive at the same moment', async () => {
    const body = creditBody();
    const responses = await Promise.all(Array.from({ length: 10 }, () => postCredit(body)));
    expect(responses.map((response) => response.status)).toEqual(Array.from({ length: 10 }, () => 200));
    expect(new Set(responses.map((response) => response.body.transactionId)).size).toBe(1);
    expect(responses.filter((response) => response.body.replayed === false)).toHaveLength(1);
    const { entries } = await assertLedgerMatchesResponses(
      database.sql,
      responses.map((response) => ({
        operation: 'credit' as const,
        ownerId: body.ownerId,
        key: body.idempotencyKey,
        amount: 1500n,
        transactionId: String(response.body.transactionId),
      })),
      { ownerIds: [body.ownerId] },
    );
    expect(entries).toHaveLength(1);
  });

  it.each([
    ['another amount', { amountMinor: '1501' }],
    ['another description', { description: 'Gift card …ZZ99' }],
  ])('refuses the same key with %s with 422 IDEMPOTENCY_KEY_REUSED and credits nothing more', async (_label, change) => {
    const body = creditBody();
    const first = await postCredit(body);
    expect(first.status).toBe(200);
    const reused = await postCredit({ ...body, ...change });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const { entries } = await assertLedgerMatchesResponses(
      database.sql,
      [{ operation: 'credit', ownerId: body.ownerId, key: body.idempotencyKey, amount: 1500n, transactionId: String(first.body.transactionId) }],
      { ownerIds: [body.ownerId] },
    );
    expect(entries).toHaveLength(1);
  });

  it("keeps one owner's keys apart from another's: the same key credits each owner once", async () => {
    const key = randomUUID();
    const alice = creditBody({ idempotencyKey: key });
    const bob = creditBody({ idempotencyKey: key, amountMinor: '20' });
    const [forAlice, forBob] = [await postCredit(alice), await postCredit(bob)];
    expect([forAlice.status, forBob.status]).toEqual([200, 200]);
    expect(forBob.body).toMatchObject({ balanceMinor: '20', replayed: false });
    expect(forBob.body.transactionId).not.toBe(forAlice.body.transactionId);
    await assertLedgerMatchesResponses(
      database.sql,
      [
        { operation: 'credit', ownerId: alice.ownerId, key, amount: 1500n, transactionId: String(forAlice.body.transactionId) },
        { operation: 'credit', ownerId: bob.ownerId, key, amount: 20n, transactionId: String(forBob.body.transactionId) },
      ],
      { ownerIds: [alice.ownerId, bob.ownerId] },
    );
  });

  it('refuses a currency that is not the wallet’s with 422 CURRENCY_MISMATCH and an unknown one with 422 BAD_USER_INPUT, crediting nothing', async () => {
    const ownerId = randomUUID();
    expect((await postCredit(creditBody({ ownerId }))).status).toBe(200);
    const mismatch = await postCredit(creditBody({ ownerId, currencyCode: 'USD' }));
    expect(mismatch).toMatchObject({ status: 422, body: { code: 'CURRENCY_MISMATCH' } });
    const unknown = await postCredit(creditBody({ ownerId, currencyCode: 'XXX' }));
    expect(unknown).toMatchObject({ status: 422, body: { code: 'BAD_USER_INPUT' } });
    expect((await ledgerEntriesOf(database.sql, { ownerIds: [ownerId] })).map((entry) => entry.amount)).toEqual([1500n]);
  });

  const malformed: [string, (owner: string) => unknown, string][] = [
    ['a body that is not JSON', () => '{"ownerId": ', 'BAD_REQUEST'],
    ['an empty body', () => '', 'BAD_USER_INPUT'],
    ['a JSON array', (ownerId) => [creditBody({ ownerId })], 'BAD_USER_INPUT'],
    ['JSON null', () => 'null', 'BAD_USER_INPUT'],
    ['no ownerId', (ownerId) => ({ ...creditBody({ ownerId }), ownerId: undefined }), 'BAD_USER_INPUT'],
    ['no idempotency key', (ownerId) => creditBody({ ownerId, idempotencyKey: '' }), 'BAD_USER_INPUT'],
    ['no description', (ownerId) => creditBody({ ownerId, description: undefined }), 'BAD_USER_INPUT'],
    ['no currency', (ownerId) => creditBody({ ownerId, currencyCode: '' }), 'BAD_USER_INPUT'],
    ['an amount sent as a JSON number', (ownerId) => creditBody({ ownerId, amountMinor: 1500 }), 'BAD_USER_INPUT'],
    ['a zero amount', (ownerId) => creditBody({ ownerId, amountMinor: '0' }), 'BAD_USER_INPUT'],
    ['a negative amount', (ownerId) => creditBody({ ownerId, amountMinor: '-5' }), 'BAD_USER_INPUT'],
    ['a fractional amount', (ownerId) => creditBody({ ownerId, amountMinor: '1.5' }), 'BAD_USER_INPUT'],
    ['an amount with a leading zero', (ownerId) => creditBody({ ownerId, amountMinor: '0150' }), 'BAD_USER_INPUT'],
    ['an amount beyond the largest single movement', (ownerId) => creditBody({ ownerId, amountMinor: String(MAX_AMOUNT_MINOR + 1n) }), 'BAD_USER_INPUT'],
    ['an amount beyond a 64-bit integer', (ownerId) => creditBody({ ownerId, amountMinor: '9223372036854775808' }), 'BAD_USER_INPUT'],
  ];

  it.each(malformed)('answers %s with 400 and writes nothing', async (_label, bodyFor, code) => {
    const ownerId = randomUUID();
    const response = await postCredit(bodyFor(ownerId));
    expect(response.status).toBe(400);
    const answeredCode = response.body.code ?? (response.body.errors as { extensions?: { code?: string } }[] | undefined)?.[0]?.extensions?.code;
    expect(answeredCode).toBe(code);
    expect(await walletsOf(database.sql, { ownerIds: [ownerId] })).toEqual([]);
  });

  it('refuses a description the ledger does not accept with 422 BAD_USER_INPUT and creates nothing', async () => {
    const ownerId = randomUUID();
    const response = await postCredit(creditBody({ ownerId, description: 'two\nlines' }));
    expect(response).toMatchObject({ status: 422, body: { code: 'BAD_USER_INPUT' } });
    expect(await walletsOf(database.sql, { ownerIds: [ownerId] })).toEqual([]);
  });
});

/** A batch call's results, the call itself answered 200. */
function resultsOf(answer: { status: number; body: Record<string, unknown> }): CreditBatchResponse['results'] {
  expect(answer.status).toBe(200);
  return (answer.body as unknown as CreditBatchResponse).results;
}

describe('a batch of credits', () => {
  const postBatch = (credits: unknown[]) => post(INTERNAL_CREDIT_BATCH_PATH, { credits });

  it('posts every credit, answers each in the order sent, and a repeat of a key within the batch is its replay', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const first = creditBody({ ownerId: alice, amountMinor: '100' });
    const credits = [first, creditBody({ ownerId: bob, amountMinor: '20' }), creditBody({ ownerId: alice, amountMinor: '5' }), first];
    const results = resultsOf(await postBatch(credits));
    expect(results.map((result) => result.status)).toEqual([200, 200, 200, 200]);
    const bodies = results.map((result) => result.body as CreditResponse);
    // Alice's two credits in the order of the batch; the repeat answers with the first credit
    // and, as any replay does, the wallet's balance as it is by then.
    expect(bodies[0]).toMatchObject({ balanceMinor: '100', replayed: false });
    expect(bodies[2]).toMatchObject({ balanceMinor: '105', replayed: false });
    expect(bodies[3]).toEqual({ ...bodies[0], balanceMinor: '105', replayed: true });
    expect(bodies[1]).toMatchObject({ balanceMinor: '20', replayed: false });
    const { entries } = await assertLedgerMatchesResponses(
      database.sql,
      credits.map((credit, index) => ({
        operation: 'credit' as const,
        ownerId: credit.ownerId,
        key: credit.idempotencyKey,
        amount: BigInt(credit.amountMinor),
        transactionId: (bodies[index] as CreditResponse).transactionId,
      })),
      { ownerIds: [alice, bob] },
    );
    expect(entries).toHaveLength(3);
  });

  it('answers a credit the wallet refuses, or a malformed one, in its own place, and posts the others', async () => {
    const ownerId = randomUUID();
    expect((await postCredit(creditBody({ ownerId }))).status).toBe(200);
    const good = [creditBody({ amountMinor: '7' }), creditBody({ amountMinor: '8' })];
    const results = resultsOf(
      await postBatch([
        good[0],
        creditBody({ ownerId, currencyCode: 'USD' }),
        { ...creditBody(), amountMinor: '-1' },
        creditBody({ description: 'two\nlines' }),
        good[1],
      ]),
    );
    expect(results.map((result) => [result.status, (result.body as { code?: string }).code])).toEqual([
      [200, undefined],
      [422, 'CURRENCY_MISMATCH'],
      [400, 'BAD_USER_INPUT'],
      [422, 'BAD_USER_INPUT'],
      [200, undefined],
    ]);
    expect((await ledgerEntriesOf(database.sql, { ownerIds: [ownerId] })).map((entry) => entry.amount)).toEqual([1500n]);
    for (const credit of good) {
      expect((await ledgerEntriesOf(database.sql, { ownerIds: [credit.ownerId] })).map((entry) => entry.amount)).toEqual([BigInt(credit.amountMinor)]);
    }
  });

  it('answers a credit that fails for a reason of its own with 500 in its place, posts the others, and posts it when sent again', async () => {
    // A fault inside the wallet for one credit only: its entry is refused by a trigger.
    await database.sql.unsafe(`
      create function wallet.test_refuse_boom() returns trigger language plpgsql as $$
      begin
        if new.description = 'Gift card …BOOM' then raise exception using errcode = 'XX001', message = 'boom'; end if;
        return new;
      end $$;
      create trigger test_refuse_boom before insert on wallet.ledger_entries for each row execute function wallet.test_refuse_boom()`);
    const failing = creditBody({ description: 'Gift card …BOOM' });
    const others = [creditBody({ amountMinor: '11' }), creditBody({ amountMinor: '12' })];
    let results: CreditBatchResponse['results'];
    try {
      results = resultsOf(await postBatch([others[0], failing, others[1]]));
    } finally {
      await database.sql.unsafe('drop trigger test_refuse_boom on wallet.ledger_entries; drop function wallet.test_refuse_boom()');
    }
    expect(results.map((result) => [result.status, (result.body as { code?: string }).code])).toEqual([
      [200, undefined],
      [500, 'INTERNAL_SERVER_ERROR'],
      [200, undefined],
    ]);
    expect(await walletsOf(database.sql, { ownerIds: [failing.ownerId] })).toEqual([]);
    for (const credit of others) {
      expect((await ledgerEntriesOf(database.sql, { ownerIds: [credit.ownerId] })).map((entry) => entry.amount)).toEqual([BigInt(credit.amountMinor)]);
    }
    // Sent again with the others (as gift-cards' relay would): each credited once.
    const again = resultsOf(await postBatch([others[0], failing, others[1]]));
    expect(again.map((result) => [result.status, (result.body as CreditResponse).replayed])).toEqual([
      [200, true],
      [200, false],
      [200, true],
    ]);
    expect((await ledgerEntriesOf(database.sql, { ownerIds: [failing.ownerId] })).map((entry) => entry.amount)).toEqual([1500n]);
  });

  it('credits each once when batches that share wallets, in opposite orders, and single credits all arrive together', async () => {
    const owners = Array.from({ length: 8 }, () => randomUUID());
    const credits = owners.flatMap((ownerId) => [creditBody({ ownerId, amountMinor: '3' }), creditBody({ ownerId, amountMinor: '4' })]);
    const batches = [credits, [...credits].reverse(), credits.slice(0, 8), credits.slice(8)];
    const answers = await Promise.all([...batches.map((batch) => postBatch(batch)), ...credits.map((credit) => postAlone(credit))]);
    for (const answer of answers.slice(0, batches.length)) {
      expect(resultsOf(answer).every((result) => result.status === 200)).toBe(true);
    }
    for (const answer of answers.slice(batches.length)) expect(answer.status).toBe(200);
    const wallets = await walletsOf(database.sql, { ownerIds: owners });
    expect(wallets.map((wallet) => wallet.balance)).toEqual(owners.map(() => 7n));
    expect(await ledgerEntriesOf(database.sql, { ownerIds: owners })).toHaveLength(16);
  });

  it('refuses a call without the service credential, or with no credits or too many, writing nothing', async () => {
    const credit = creditBody();
    expect(await post(INTERNAL_CREDIT_BATCH_PATH, { credits: [credit] }, null)).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(await postBatch([])).toMatchObject({ status: 400, body: { code: 'BAD_USER_INPUT' } });
    expect(await post(INTERNAL_CREDIT_BATCH_PATH, { credits: credit })).toMatchObject({ status: 400, body: { code: 'BAD_USER_INPUT' } });
    const tooMany = Array.from({ length: MAX_CREDITS_PER_BATCH + 1 }, () => creditBody({ ownerId: credit.ownerId, amountMinor: '1' }));
    expect(await postBatch(tooMany)).toMatchObject({ status: 400, body: { code: 'BAD_USER_INPUT' } });
    expect(await walletsOf(database.sql, { ownerIds: [credit.ownerId] })).toEqual([]);
  });
});

describe('the internal balance route', () => {
  it("answers a wallet's balance after its credits, in its currency", async () => {
    const ownerId = randomUUID();
    const credit = (await postCredit(creditBody({ ownerId, amountMinor: '1500' }))).body as unknown as CreditResponse;
    await postCredit(creditBody({ ownerId, amountMinor: '250' }));
    const response = await post(INTERNAL_BALANCE_PATH, { ownerId });
    expect(response).toEqual({ status: 200, body: { walletId: credit.walletId, balanceMinor: '1750', currencyCode: 'IRR' } satisfies BalanceResponse });
    expect(await walletsOf(database.sql, { ownerIds: [ownerId] })).toEqual([{ id: credit.walletId, ownerId, balance: 1750n, currencyCode: 'IRR' }]);
  });

  it('creates an empty wallet for a user who has none yet, once, as the wallet by owner does', async () => {
    const ownerId = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(INTERNAL_BALANCE_PATH, { ownerId })));
    const [wallet, ...others] = await walletsOf(database.sql, { ownerIds: [ownerId] });
    expect(others).toEqual([]);
    for (const answer of answers) expect(answer).toEqual({ status: 200, body: { walletId: wallet?.id, balanceMinor: '0', currencyCode: 'IRR' } });
  });

  it('refuses a caller without the service credential with 401 and one without an owner with 400, creating nothing', async () => {
    const ownerId = randomUUID();
    expect(await post(INTERNAL_BALANCE_PATH, { ownerId }, null)).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(await post(INTERNAL_BALANCE_PATH, { ownerId }, 'not-the-credential')).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(await post(INTERNAL_BALANCE_PATH, { ownerId: '' })).toMatchObject({ status: 400, body: { code: 'BAD_USER_INPUT' } });
    expect(await post(INTERNAL_BALANCE_PATH, 'null')).toMatchObject({ status: 400, body: { code: 'BAD_USER_INPUT' } });
    expect(await walletsOf(database.sql, { ownerIds: [ownerId] })).toEqual([]);
  });
});

describe('a request body past SUBGRAPH_MAX_BODY_BYTES', () => {
  it('is answered 413 BAD_REQUEST and posts nothing; one just under the limit is read', async () => {
    const limit = 65_536;
    const config = loadConfig(testEnv(database.url, { ACCOUNTS_URL: await addressNobodyListensOn(), SUBGRAPH_MAX_BODY_BYTES: String(limit) }));
    const small = await createServer({ config });
    const smallListening = await listen(small.server, 0, '127.0.0.1');
    try {
      const ownerId = randomUUID();
      const credit = (padding: number) =>
        fetch(`${smallListening.url}${INTERNAL_CREDIT_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SERVICE_TOKEN_HEADER]: config.internalApiToken },
          body: JSON.stringify({
            ownerId,
            amountMinor: '5',
            currencyCode: 'IRR',
            description: 'x',
            idempotencyKey: randomUUID(),
            padding: 'p'.repeat(padding),
          }),
        });
      const over = await credit(limit);
      expect(over.status).toBe(413);
      expect(((await over.json()) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
      expect(await walletsOf(database.sql, { ownerIds: [ownerId] })).toEqual([]);
      const under = await credit(limit - 1_000);
      expect(under.status).toBe(200);
      expect((await walletsOf(database.sql, { ownerIds: [ownerId] })).map((wallet) => wallet.balance)).toEqual([5n]);
    } finally {
      await smallListening.close();
      await small.close();
    }
  });
});

describe("a credit whose wallet's row is held past DB_LOCK_TIMEOUT_MS", () => {
  it('is answered 503 SERVICE_UNAVAILABLE, alone or in a batch, posts nothing, and posts once when sent again', async () => {
    const config = loadConfig(testEnv(database.url, { ACCOUNTS_URL: await addressNobodyListensOn(), DB_LOCK_TIMEOUT_MS: '200' }));
    const impatient = await createServer({ config });
    const impatientListening = await listen(impatient.server, 0, '127.0.0.1');
    const send = async (path: string, body: unknown) => {
      const response = await fetch(`${impatientListening.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SERVICE_TOKEN_HEADER]: config.internalApiToken },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    try {
      const ownerId = randomUUID();
      expect((await send(INTERNAL_CREDIT_PATH, creditBody({ ownerId, amountMinor: '100' }))).status).toBe(200);
      const alone = creditBody({ ownerId, amountMinor: '5' });
      const inBatch = creditBody({ ownerId, amountMinor: '6' });
      const holder = await holdWalletRow(database.sql, ownerId);
      try {
        expect(await send(INTERNAL_CREDIT_PATH, alone)).toEqual({ status: 503, body: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } });
        const batch = resultsOf(await send(INTERNAL_CREDIT_BATCH_PATH, { credits: [inBatch] }));
        expect(batch).toEqual([{ status: 503, body: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } }]);
        expect((await walletsOf(database.sql, { ownerIds: [ownerId] })).map((wallet) => wallet.balance)).toEqual([100n]);
      } finally {
        await holder.release();
      }
      expect((await send(INTERNAL_CREDIT_PATH, alone)).body).toMatchObject({ balanceMinor: '105', replayed: false });
      expect(resultsOf(await send(INTERNAL_CREDIT_BATCH_PATH, { credits: [inBatch] }))[0]).toMatchObject({ status: 200, body: { balanceMinor: '111' } });
      expect((await ledgerEntriesOf(database.sql, { ownerIds: [ownerId] })).map((entry) => entry.amount)).toEqual([100n, 5n, 6n]);
    } finally {
      await impatientListening.close();
      await impatient.close();
    }
  });
});

describe('a credit that meets a deadlock on every attempt the wallet makes', () => {
  it('is answered 503 SERVICE_UNAVAILABLE, alone or in a batch, posts nothing, and posts once when sent again', async () => {
    const description = `deadlocked ${randomUUID().slice(0, 8)}`;
    const alone = creditBody({ amountMinor: '9', description });
    const inBatch = creditBody({ amountMinor: '10', description });
    // Every attempt fails as a deadlock PostgreSQL broke: 5 for the single credit, and for the
    // batch 5 for its statement and 5 for its credit posted alone.
    const fault = await injectLedgerInsertFault(database.sql, { description, sqlstate: '40P01', times: 15 });
    try {
      expect(await postAlone(alone)).toEqual({ status: 503, body: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } });
      expect(resultsOf(await post(INTERNAL_CREDIT_BATCH_PATH, { credits: [inBatch, creditBody({ amountMinor: '11' })] }))).toEqual([
        { status: 503, body: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } },
        expect.objectContaining({ status: 200 }),
      ]);
      expect(await fault.matched()).toBe(15);
      expect(await walletsOf(database.sql, { ownerIds: [alone.ownerId, inBatch.ownerId] })).toEqual([]);
    } finally {
      await fault.remove();
    }
    expect((await postAlone(alone)).body).toMatchObject({ balanceMinor: '9', replayed: false });
    expect(resultsOf(await post(INTERNAL_CREDIT_BATCH_PATH, { credits: [inBatch] }))[0]).toMatchObject({ status: 200, body: { balanceMinor: '10' } });
  });
});
