// The internal credit operation: how the gift-cards service pays a redemption into a wallet.
// It is plain HTTP beside GraphQL, so it is not in the supergraph and the gateway cannot
// reach it; it needs the service credential; and it is idempotent on the caller's key.

import {
  DomainError,
  findPostgresError,
  isDatabaseUnavailable,
  isRequestId,
  isTransientDatabaseFailure,
  type JsonRoute,
  type Logger,
  linkActiveSpanTo,
  MAX_AMOUNT_MINOR,
  minorUnitsOf,
  SERVICE_TOKEN_HEADER,
  serviceTokenMatches,
} from '@giftpay/common';
import type { CreditInput, Ledger, PostedTransaction } from './ledger.service.ts';

export const INTERNAL_CREDIT_PATH = '/internal/credits';
/** Several credits in one call (gift-cards sends a promotion's winners together), each answered as the single route would. */
export const INTERNAL_CREDIT_BATCH_PATH = '/internal/credit-batches';
/** The most credits one batch may carry. */
export const MAX_CREDITS_PER_BATCH = 100;
/** The balance of a user's wallet, for the gift-cards service's answer when a credit is still on its way. */
export const INTERNAL_BALANCE_PATH = '/internal/balances';

/** What the gift-cards service sends. Amounts are minor units as a string, so nothing passes through a float. */
export interface CreditRequest {
  ownerId: string;
  amountMinor: string;
  currencyCode: string;
  description: string;
  idempotencyKey: string;
}

export interface CreditResponse {
  transactionId: string;
  walletId: string;
  /** The wallet's balance after the credit (after the first one, when this is a replay), in the credit's currency. */
  balanceMinor: string;
  replayed: boolean;
}

/** Each credit of a batch, in the batch's order: the status and body the single route would have answered. */
export interface CreditBatchResponse {
  results: ({ status: 200; body: CreditResponse } | { status: 400 | 422 | 500 | 503; body: { code: string; message: string } })[];
}

export interface BalanceResponse {
  walletId: string;
  balanceMinor: string;
  currencyCode: string;
}

function parseCreditRequest(body: unknown): CreditRequest | string {
  if (typeof body !== 'object' || body === null) return 'a JSON object is required';
  const fields = body as Record<string, unknown>;
  for (const name of ['ownerId', 'amountMinor', 'currencyCode', 'description', 'idempotencyKey']) {
    if (typeof fields[name] !== 'string' || fields[name] === '') return `${name} is required`;
  }
  if (!/^[1-9]\d{0,18}$/.test(fields.amountMinor as string) || BigInt(fields.amountMinor as string) > MAX_AMOUNT_MINOR) {
    return `amountMinor must be a positive integer string of at most ${MAX_AMOUNT_MINOR}`;
  }
  return fields as unknown as CreditRequest;
}

/** A POST route that answers 401 to any caller without the service credential. */
function serviceRoute(path: string, serviceToken: string, handle: JsonRoute['handle']): JsonRoute {
  return {
    method: 'POST',
    path,
    handle(request) {
      if (!serviceTokenMatches(request.headers[SERVICE_TOKEN_HEADER], serviceToken)) {
        return Promise.resolve({ status: 401, body: { code: 'UNAUTHENTICATED', message: 'a service credential is required' } });
      }
      return handle(request);
    },
  };
}

/** A credit the wallet could not post for want of its database (out of reach, or busy past the retries): the caller sends it again. */
const WALLET_DATABASE_UNAVAILABLE = Object.freeze({
  code: 'SERVICE_UNAVAILABLE',
  message: 'the wallet could not post the credit just now (its database out of reach or busy); send the credit again',
});

/** A credit answered 503 is logged as a warning, a deadlock past the retries saying so: the sign of a lock-order fault. */
function logDatabaseFailure(error: unknown, requestId: string, logger: Logger): void {
  const what = isDatabaseUnavailable(error) ? 'a credit found the database out of reach' : 'a credit met a deadlock or serialization failure past its retries';
  logger.warn({ err: error, requestId, sqlstate: findPostgresError(error)?.code }, what);
}

function creditInputOf(parsed: CreditRequest): CreditInput {
  minorUnitsOf(parsed.currencyCode);
  return {
    ownerId: parsed.ownerId,
    amount: { minor: BigInt(parsed.amountMinor), currencyCode: parsed.currencyCode },
    description: parsed.description,
    idempotencyKey: parsed.idempotencyKey,
    scope: `credit:${parsed.ownerId}`,
  };
}

function creditResponseOf(posted: PostedTransaction): CreditResponse {
  return { transactionId: posted.entry.id, walletId: posted.wallet.id, balanceMinor: posted.wallet.balance.toString(), replayed: posted.replayed };
}

export function internalCreditRoute(ledger: Ledger, serviceToken: string, logger: Logger): JsonRoute {
  return serviceRoute(INTERNAL_CREDIT_PATH, serviceToken, async (request) => {
    const parsed = parseCreditRequest(request.body);
    if (typeof parsed === 'string') return { status: 400, body: { code: 'BAD_USER_INPUT', message: parsed } };
    try {
      return { status: 200, body: creditResponseOf(await ledger.credit(creditInputOf(parsed))) };
    } catch (error) {
      if (error instanceof DomainError) return { status: 422, body: { code: error.code, message: error.message } };
      // Its database out of reach (a lock or statement timeout included), or a deadlock past
      // the retries: 503, as a batch's credit would be answered, so the caller sends it again;
      // anything else is the edge's 500.
      if (isTransientDatabaseFailure(error)) {
        logDatabaseFailure(error, request.requestId, logger);
        return { status: 503, body: WALLET_DATABASE_UNAVAILABLE };
      }
      throw error;
    }
  });
}

/**
 * A credit of a batch that failed for a reason of the wallet's own (its database out of
 * reach, a bug): answered in its place, 503 or 500 as the single route's edge would, while
 * the others keep theirs; the caller sends it again later under the same key.
 */
function failedCredit(error: Error, requestId: string, logger: Logger): { status: 500 | 503; body: { code: string; message: string } } {
  if (isTransientDatabaseFailure(error)) {
    logDatabaseFailure(error, requestId, logger);
    return { status: 503, body: WALLET_DATABASE_UNAVAILABLE };
  }
  logger.error({ err: error, requestId }, 'a credit of a batch failed');
  return { status: 500, body: { code: 'INTERNAL_SERVER_ERROR', message: `Something went wrong on our side (request ${requestId}).` } };
}

/**
 * `{ credits: CreditRequest[] }`, at most MAX_CREDITS_PER_BATCH: posted together
 * (`Ledger.creditMany`), each answered in `results` as the single route would answer it. A
 * credit the wallet refuses (400, 422), or one that fails for a reason of the wallet's own
 * (503, 500), takes nothing from the others; the caller sends a failed one again later.
 */
export function internalCreditBatchRoute(ledger: Ledger, serviceToken: string, logger: Logger): JsonRoute {
  return serviceRoute(INTERNAL_CREDIT_BATCH_PATH, serviceToken, async (request) => {
    const credits = (request.body as { credits?: unknown } | null)?.credits;
    if (!Array.isArray(credits) || credits.length === 0 || credits.length > MAX_CREDITS_PER_BATCH) {
      return { status: 400, body: { code: 'BAD_USER_INPUT', message: `credits must be a list of 1 to ${MAX_CREDITS_PER_BATCH} credits` } };
    }
    const results: CreditBatchResponse['results'] = new Array(credits.length);
    const inputs: { index: number; input: CreditInput }[] = [];
    credits.forEach((credit: unknown, index) => {
      const parsed = parseCreditRequest(credit);
      if (typeof parsed === 'string') {
        results[index] = { status: 400, body: { code: 'BAD_USER_INPUT', message: parsed } };
        return;
      }
      try {
        inputs.push({ index, input: creditInputOf(parsed) });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        results[index] = { status: 422, body: { code: error.code, message: error.message } };
      }
    });
    // One line names every request whose credit this batch carries: a request id still
    // follows an activation from the gateway to the wallet.
    const requestIds = [
      ...new Set(
        credits.flatMap((credit: unknown) => {
          const id = (credit as { requestId?: unknown } | null)?.requestId;
          return isRequestId(id) ? [id] : [];
        }),
      ),
    ];
    logger.info({ requestId: request.requestId, credits: credits.length, requestIds }, 'credit batch');
    // And this request's span links to the span of each request whose credit it carries.
    linkActiveSpanTo(credits.map((credit: unknown) => (credit as { traceparent?: unknown } | null)?.traceparent));
    const posted = await ledger.creditMany(inputs.map(({ input }) => input));
    posted.forEach((result, position) => {
      const { index } = inputs[position] as { index: number };
      if (result instanceof DomainError) results[index] = { status: 422, body: { code: result.code, message: result.message } };
      else if (result instanceof Error) results[index] = failedCredit(result, request.requestId, logger);
      else results[index] = { status: 200, body: creditResponseOf(result) };
    });
    const response: CreditBatchResponse = { results };
    return { status: 200, body: response };
  });
}

/**
 * The balance of a user's wallet (created empty when the user has none yet, as the GraphQL
 * `Wallet` by owner is). The gift-cards service asks it when an activation's credit is still
 * PENDING: its answer carries the wallet (docs/gift-cards.md), and a credited one takes the
 * balance from the credit's own answer instead.
 */
export function internalBalanceRoute(ledger: Ledger, serviceToken: string): JsonRoute {
  return serviceRoute(INTERNAL_BALANCE_PATH, serviceToken, async (request) => {
    const ownerId = (request.body as { ownerId?: unknown } | null)?.ownerId;
    if (typeof ownerId !== 'string' || ownerId === '') return { status: 400, body: { code: 'BAD_USER_INPUT', message: 'ownerId is required' } };
    const wallet = await ledger.ensureWallet(ownerId);
    const response: BalanceResponse = { walletId: wallet.id, balanceMinor: wallet.balance.toString(), currencyCode: wallet.currencyCode };
    return { status: 200, body: response };
  });
}
