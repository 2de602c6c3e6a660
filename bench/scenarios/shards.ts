// Slot shards: the flash promotion with the card's slots split over K counter rows, K = 1 (the
// card's own row), 4 and 16, at the database (the claim statement alone, over the services'
// pool size) and through GiftPay's gateway. One stack serves every K: the bench splits each
// fresh card itself with the SQL function gift-cards uses at issue. Each run is the flash's,
// with its checks: exactly the slots taken, the rest refused, the ledger right.

import type { BenchContext } from '../lib/context.ts';
import type { PathFigures } from '../lib/figures.ts';
import type { BenchUser } from '../lib/seed.ts';
import { flashAtDatabase, flashOverGraphQL } from './flash.ts';

export const SHARD_COUNTS: readonly number[] = [1, 4, 16];

function asShardsRow(figures: PathFigures, shards: number): PathFigures {
  return {
    ...figures,
    scenario: 'shards',
    label: `${figures.label}, K = ${shards}`,
    ...(figures.flash ? { flash: { ...figures.flash, slotShards: shards } } : {}),
  };
}

/** The claim statement alone on a card split over `shards` rows. */
export async function shardsAtDatabase(
  context: BenchContext,
  ceilingUrl: string,
  options: { slots: number; users: number; concurrency: number; shards: number },
): Promise<PathFigures> {
  return asShardsRow(await flashAtDatabase(context, ceilingUrl, options), options.shards);
}

/** The flash through GiftPay's gateway on a card split over `shards` rows; the same users may run every K (each card is new). */
export async function shardsThroughGateway(
  context: BenchContext,
  options: { slots: number; users: readonly BenchUser[]; concurrency: number; shards: number },
): Promise<PathFigures> {
  return asShardsRow(await flashOverGraphQL(context, 'giftpay', options), options.shards);
}
