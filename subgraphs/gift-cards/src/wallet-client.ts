// The gift-cards side of the wallet's internal operations: the credit of a redemption, and
// the balance an activation answers with while its credit is still on its way.

import { postToService } from '@giftpay/common';

export interface WalletCredit {
  readonly ownerId: string;
  readonly amountMinor: bigint;
  readonly currencyCode: string;
  readonly description: string;
  readonly idempotencyKey: string;
}

/** A wallet's balance as the wallet answered it, in minor units of its currency. */
export interface WalletBalance {
  readonly balanceMinor: bigint;
  readonly currencyCode: string;
}

export interface WalletClient {
  /** Credits the wallet; the balance is the wallet's after the credit, in the credit's currency. */
  credit(credit: WalletCredit, requestId?: string): Promise<{ transactionId: string; balance: WalletBalance }>;
  /** The balance of the user's wallet now. */
  balance(ownerId: string, requestId?: string): Promise<WalletBalance>;
}

export function createWalletClient(options: { walletUrl: string; serviceToken: string; timeoutMs: number }): WalletClient {
  const call = <T>(path: string, body: Record<string, string>, requestId: string | undefined) =>
    postToService<T>({
      url: `${options.walletUrl}${path}`,
      serviceToken: options.serviceToken,
      timeoutMs: options.timeoutMs,
      ...(requestId ? { requestId } : {}),
      body,
    });
  return {
    async credit(credit, requestId) {
      const answer = await call<{ transactionId: string; balanceMinor: string }>(
        '/internal/credits',
        {
          ownerId: credit.ownerId,
          amountMinor: credit.amountMinor.toString(),
          currencyCode: credit.currencyCode,
          description: credit.description,
          idempotencyKey: credit.idempotencyKey,
        },
        requestId,
      );
      return { transactionId: answer.transactionId, balance: { balanceMinor: BigInt(answer.balanceMinor), currencyCode: credit.currencyCode } };
    },
    async balance(ownerId, requestId) {
      const answer = await call<{ balanceMinor: string; currencyCode: string }>('/internal/balances', { ownerId }, requestId);
      return { balanceMinor: BigInt(answer.balanceMinor), currencyCode: answer.currencyCode };
    },
  };
}
