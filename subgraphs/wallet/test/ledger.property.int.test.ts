// Property tests of the ledger against a real PostgreSQL: random sequences of credits,
// spends, transfers and retries, checked against a model when run one by one, and when run at
// once against what the successful answers imply (each key once) and the ledger invariants.

import { randomUUID } from 'node:crypto';
import { connectDatabase } from '@giftpay/common/db';
import {
  assertLedgerInvariants,
  assertLedgerMatchesResponses,
  CONTENDED_LEDGER_TIMEOUTS,
  createTestDatabase,
  type SuccessfulRequest,
  type TestDatabase,
} from '@giftpay/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../src/db/schema.ts';
import { createLedger, type Ledger } from '../src/ledger.service.ts';

let database: TestDatabase;
let ledger: Ledger;
let close: () => Promise<void>;
const userIdsByName = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  const connection = connectDatabase(database.url, schema, {
    applicationName: 'ledger-property-test',
    maxConnections: 20,
    timeouts: CONTENDED_LEDGER_TIMEOUTS,
  });
  close = connection.close;
  ledger = createLedger({ db: connection.db, defaultCurrency: 'IRR', findUserIdByUsername: async (name) => userIdsByName.get(name) ?? null });
});

afterAll(async () => {
  await close?.();
});

type Step =
  | { kind: 'credit'; user: number; amount: number }
  | { kind: 'spend'; user: number; amount: number }
  | { kind: 'transfer'; user: number; to: number; amount: number }
  /** Sends step `of` again with the same key and input: it must change nothing. */
  | { kind: 'retry'; of: number }
  /** Sends step `of`'s key with another amount: it must be refused. */
  | { kind: 'reuse'; of: number };

const USERS = 4;
const amount = fc.integer({ min: 1, max: 400 });
const user = fc.integer({ min: 0, max: USERS - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('credit' as const), user, amount }),
  fc.record({ kind: fc.constant('spend' as const), user, amount }),
  fc.record({ kind: fc.constant('transfer' as const), user, to: user, amount }),
  fc.record({ kind: fc.constant('retry' as const), of: fc.nat() }),
  fc.record({ kind: fc.constant('reuse' as const), of: fc.nat() }),
);

interface World {
  readonly ids: string[];
  readonly names: string[];
}

function newWorld(): World {
  const ids = Array.from({ length: USERS }, () => randomUUID());
  const names = ids.map((id) => `p_${id.slice(0, 12)}`);
  for (const [index, name] of names.entries()) userIdsByName.set(name, ids[index] as string);
  return { ids, names };
}

/** The request a step sends, resolving retries to the step they repeat. */
function requestOf(steps: Step[], index: number): { step: Exclude<Step, { kind: 'retry' | 'reuse' }>; key: string; amountDelta: number } | null {
  const current = steps[index];
  if (!current) return null;
  if (current.kind === 'retry' || current.kind === 'reuse') {
    const earlier = index === 0 ? null : requestOf(steps, current.of % index);
    if (!earlier) return null;
    return { ...earlier, amountDelta: current.kind === 'reuse' ? 1 : 0 };
  }
  return { step: current, key: `step-${index}`, amountDelta: 0 };
}

interface Sent {
  /** Null when the request succeeded, 'skipped' when the step sent nothing, else the error code. */
  readonly outcome: string | null;
  /** The request as sent, when it succeeded: what the ledger must then hold, counted once per key. */
  readonly success: SuccessfulRequest | null;
}

async function send(world: World, steps: Step[], index: number): Promise<Sent> {
  const request = requestOf(steps, index);
  if (!request) return { outcome: 'skipped', success: null };
  const { step: s, key, amountDelta } = request;
  const minor = BigInt(s.amount + amountDelta);
  const money = { minor, currencyCode: 'IRR' };
  const owner = world.ids[s.user] as string;
  try {
    if (s.kind === 'credit') {
      const posted = await ledger.credit({ ownerId: owner, amount: money, description: 'gift', idempotencyKey: key, scope: `credit:${owner}` });
      return { outcome: null, success: { operation: 'credit', ownerId: owner, key, amount: minor, transactionId: posted.entry.id } };
    }
    if (s.kind === 'spend') {
      const posted = await ledger.spend({ ownerId: owner, amount: money, description: 'shop', idempotencyKey: key });
      return { outcome: null, success: { operation: 'spend', ownerId: owner, key, amount: minor, transactionId: posted.entry.id } };
    }
    const to = s.to === s.user ? (s.user + 1) % USERS : s.to;
    const posted = await ledger.transfer({
      ownerId: owner,
      senderUsername: world.names[s.user] as string,
      toUsername: world.names[to] as string,
      amount: money,
      idempotencyKey: key,
    });
    return {
      outcome: null,
      success: { operation: 'transfer', ownerId: owner, toOwnerId: world.ids[to] as string, key, amount: minor, transactionId: posted.entry.id },
    };
  } catch (error) {
    return { outcome: (error as { code?: string }).code ?? `unexpected: ${String(error)}`, success: null };
  }
}

async function balances(world: World): Promise<bigint[]> {
  return Promise.all(world.ids.map(async (id) => (await ledger.ensureWallet(id)).balance));
}

describe('the ledger under random operations', () => {
  it('matches a simple model, step by step: balances, refusals and retries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const world = newWorld();
        const model = Array.from({ length: USERS }, () => 0n);
        // Which input (amount offset) each key was first applied with: a key is taken only by a
        // request that went through; a refused one leaves it free for the next request.
        const appliedWith = new Map<string, number>();
        for (let index = 0; index < steps.length; index += 1) {
          const request = requestOf(steps, index);
          const { outcome } = await send(world, steps, index);
          if (!request) continue;
          const { step: s, key, amountDelta } = request;
          const taken = appliedWith.get(key);
          if (taken !== undefined) {
            // The same input replays the first result; another input under the key is refused.
            expect(outcome).toBe(taken === amountDelta ? null : 'IDEMPOTENCY_KEY_REUSED');
            continue;
          }
          const value = BigInt(s.amount + amountDelta);
          const from = s.user;
          if (s.kind === 'credit') {
            expect(outcome).toBeNull();
            model[from] = (model[from] ?? 0n) + value;
          } else if ((model[from] ?? 0n) < value) {
            expect(outcome).toBe('INSUFFICIENT_FUNDS');
            continue;
          } else {
            expect(outcome).toBeNull();
            model[from] = (model[from] ?? 0n) - value;
            if (s.kind === 'transfer') {
              const to = s.to === s.user ? (s.user + 1) % USERS : s.to;
              model[to] = (model[to] ?? 0n) + value;
            }
          }
          appliedWith.set(key, amountDelta);
        }
        expect(await balances(world)).toEqual(model);
        await assertLedgerInvariants(database.sql, { ownerIds: world.ids });
      }),
      { numRuns: 25 },
    );
  });

  it('holds exactly what the successful answers imply when the same random operations all run at once, each key applied once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
        const world = newWorld();
        const sent = await Promise.all(steps.map((_, index) => send(world, steps, index)));
        for (const { outcome } of sent) expect([null, 'skipped', 'INSUFFICIENT_FUNDS', 'IDEMPOTENCY_KEY_REUSED']).toContain(outcome);
        // The expectation comes from the answers, never from the ledger under test: balances,
        // the credited and spent sums over distinct successful keys, two entries per successful
        // transfer, at most one entry per wallet, key and kind. A request applied twice breaks them.
        const successes = sent.flatMap(({ success }) => (success ? [success] : []));
        await assertLedgerMatchesResponses(database.sql, successes, { ownerIds: world.ids });
      }),
      { numRuns: 15 },
    );
  });
});
