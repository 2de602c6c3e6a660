// The gift-cards side of the wallet's internal credit operation.

import { postToService } from '@giftpay/common';

export interface WalletCredit {
  readonly ownerId: string;
  readonly amountMinor: bigint;
  readonly currencyCode: string;
  readonly description: string;
  readonly idempotencyKey: string;
}

export interface WalletClient {
  credit(credit: WalletCredit, requestId?: string): Promise<{ transactionId: string }>;
}

export function createWalletClient(options: { walletUrl: string; serviceToken: string; timeoutMs: number }): WalletClient {
  return {
    credit(credit, requestId) {
      return postToService<{ transactionId: string }>({
        url: `${options.walletUrl}/internal/credits`,
        serviceToken: options.serviceToken,
        timeoutMs: options.timeoutMs,
        ...(requestId ? { requestId } : {}),
        body: {
          ownerId: credit.ownerId,
          amountMinor: credit.amountMinor.toString(),
          currencyCode: credit.currencyCode,
          description: credit.description,
          idempotencyKey: credit.idempotencyKey,
        },
      });
    },
  };
}
