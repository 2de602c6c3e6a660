// The gift-cards side of the wallet's internal operations: the credit of a redemption, and
// the balance an activation answers with while its credit is still on its way.

import { activeTraceparent, postToService, ServiceCallError } from '@giftpay/common';
import { createBatcher } from '@giftpay/common/batching';

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

interface CreditAnswer {
  readonly transactionId: string;
  readonly balanceMinor: string;
}

/**
 * A batch of credits: at most 50, and two batches on their way at once; the credits that
 * arrive meanwhile leave together when one returns (docs/architecture.md). One at a time
 * cost the wallet less, but one slow call would then hold back every other credit of the
 * replica, the relay's included, until its timeout (docs/performance.md).
 */
const CREDIT_BATCH = { maxBatchSize: 50, maxInFlight: 2 };

/**
 * The wallet's answer for one credit of a batch, not 200: its own word on that credit. A
 * refusal of the whole call (a proxy's or a misrouted URL's 400) is a plain ServiceCallError,
 * which says nothing about any one credit.
 */
export class CreditRefusedError extends ServiceCallError {}

export function createWalletClient(options: { walletUrl: string; serviceToken: string; timeoutMs: number }): WalletClient {
  const call = <T>(path: string, body: unknown, requestId: string | undefined) =>
    postToService<T>({
      url: `${options.walletUrl}${path}`,
      serviceToken: options.serviceToken,
      timeoutMs: options.timeoutMs,
      ...(requestId ? { requestId } : {}),
      body,
    });
  const batchPath = '/internal/credit-batches';
  const batchUrl = `${options.walletUrl}${batchPath}`;
  // Credits that arrive while others are on their way leave together, in one call and one
  // transaction at the wallet; each is answered (or refused) as the single route would.
  // Each credit carries the id and the trace of the request it belongs to, so the wallet's log
  // line and span of the batch name every request whose credit it posted (the call itself is
  // in the first one's trace, with its x-request-id).
  type QueuedCredit = WalletCredit & { readonly requestId?: string; readonly traceparent?: string; readonly wait: { abandoned: boolean } };
  const credits = createBatcher<QueuedCredit, CreditAnswer>(async (queued) => {
    // A credit whose caller gave up waiting (its deadline passed in the queue) is not sent: the
    // caller recorded it as owed, and its retry or the relay sends it again.
    const batch = queued.filter((credit) => !credit.wait.abandoned);
    const answers = batch.length === 0 ? [] : await send(batch);
    let next = 0;
    return queued.map((credit) =>
      credit.wait.abandoned ? new ServiceCallError(`POST ${batchUrl} not sent: its caller gave up waiting`, null) : (answers[next++] as CreditAnswer | Error),
    );
  }, CREDIT_BATCH);
  async function send(batch: readonly QueuedCredit[]): Promise<(CreditAnswer | Error)[]> {
    const requestId = batch.find((credit) => credit.requestId)?.requestId;
    const answer = await call<{ results: { status: number; body: unknown }[] }>(
      batchPath,
      {
        credits: batch.map((credit) => ({
          ownerId: credit.ownerId,
          amountMinor: credit.amountMinor.toString(),
          currencyCode: credit.currencyCode,
          description: credit.description,
          idempotencyKey: credit.idempotencyKey,
          ...(credit.requestId ? { requestId: credit.requestId } : {}),
          ...(credit.traceparent ? { traceparent: credit.traceparent } : {}),
        })),
      },
      requestId,
    );
    if (answer?.results?.length !== batch.length)
      throw new ServiceCallError(`POST ${batchUrl} answered ${answer?.results?.length} results for ${batch.length} credits`, 200);
    return answer.results.map((result) =>
      result.status === 200
        ? (result.body as CreditAnswer)
        : new CreditRefusedError(`POST ${batchUrl} answered ${result.status} for a credit`, result.status, result.body),
    );
  }
  return {
    async credit(credit, requestId) {
      const traceparent = activeTraceparent();
      const wait = { abandoned: false };
      const load = credits.load({ ...credit, ...(requestId ? { requestId } : {}), ...(traceparent ? { traceparent } : {}), wait });
      // The timeout counts from the moment the credit is asked for, not from its call: when the
      // wallet hangs, credits queue behind the two batches on their way, and a winner far back
      // in the queue would otherwise wait a timeout for each pair of batches ahead of it (past
      // the gateway's deadline, told the service is unavailable though its slot is taken). Given
      // up on while still queued, it is not sent (so retries do not pile up behind it); given up
      // on while its batch is on its way, that batch may still reach the wallet, which the
      // relay's later send of the same key then replays.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          wait.abandoned = true;
          reject(new ServiceCallError(`POST ${batchUrl} failed: timed out after ${options.timeoutMs} ms`, null));
        }, options.timeoutMs);
      });
      load.catch(() => {});
      try {
        const answer = await Promise.race([load, deadline]);
        return { transactionId: answer.transactionId, balance: { balanceMinor: BigInt(answer.balanceMinor), currencyCode: credit.currencyCode } };
      } finally {
        clearTimeout(timer);
      }
    },
    async balance(ownerId, requestId) {
      const answer = await call<{ balanceMinor: string; currencyCode: string }>('/internal/balances', { ownerId }, requestId);
      return { balanceMinor: BigInt(answer.balanceMinor), currencyCode: answer.currencyCode };
    },
  };
}
