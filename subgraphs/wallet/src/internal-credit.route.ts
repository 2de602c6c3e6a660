// The internal credit operation: how the gift-cards service pays a redemption into a wallet.
// It is plain HTTP beside GraphQL, so it is not in the supergraph and the gateway cannot
// reach it; it needs the service credential; and it is idempotent on the caller's key.

import { DomainError, type JsonRoute, MAX_AMOUNT_MINOR, minorUnitsOf, SERVICE_TOKEN_HEADER, serviceTokenMatches } from '@giftpay/common';
import type { Ledger } from './ledger.service.ts';

export const INTERNAL_CREDIT_PATH = '/internal/credits';

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
  balanceMinor: string;
  replayed: boolean;
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

export function internalCreditRoute(ledger: Ledger, serviceToken: string): JsonRoute {
  return {
    method: 'POST',
    path: INTERNAL_CREDIT_PATH,
    async handle(request) {
      if (!serviceTokenMatches(request.headers[SERVICE_TOKEN_HEADER], serviceToken)) {
        return { status: 401, body: { code: 'UNAUTHENTICATED', message: 'a service credential is required' } };
      }
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
    },
  };
}
