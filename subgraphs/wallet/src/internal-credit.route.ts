// The internal credit operation: how the gift-cards service pays a redemption into a wallet.
// It is plain HTTP beside GraphQL, so it is not in the supergraph and the gateway cannot
// reach it; it needs the service credential; and it is idempotent on the caller's key.

import { DomainError, type JsonRoute, MAX_AMOUNT_MINOR, minorUnitsOf, SERVICE_TOKEN_HEADER, serviceTokenMatches } from '@giftpay/common';
import type { Ledger } from './ledger.service.ts';

export const INTERNAL_CREDIT_PATH = '/internal/credits';
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

export function internalCreditRoute(ledger: Ledger, serviceToken: string): JsonRoute {
  return serviceRoute(INTERNAL_CREDIT_PATH, serviceToken, async (request) => {
    const parsed = parseCreditRequest(request.body);
    if (typeof parsed === 'string') return { status: 400, body: { code: 'BAD_USER_INPUT', message: parsed } };
    try {
      minorUnitsOf(parsed.currencyCode);
      const posted = await ledger.credit({
        ownerId: parsed.ownerId,
        amount: { minor: BigInt(parsed.amountMinor), currencyCode: parsed.currencyCode },
        description: parsed.description,
        idempotencyKey: parsed.idempotencyKey,
        scope: `credit:${parsed.ownerId}`,
      });
      const response: CreditResponse = {
        transactionId: posted.entry.id,
        walletId: posted.wallet.id,
        balanceMinor: posted.wallet.balance.toString(),
        replayed: posted.replayed,
      };
      return { status: 200, body: response };
    } catch (error) {
      if (error instanceof DomainError) return { status: 422, body: { code: error.code, message: error.message } };
      throw error;
    }
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
