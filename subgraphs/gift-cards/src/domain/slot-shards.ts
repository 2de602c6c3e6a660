// How many counter rows (slot shards) a card's slots are split over. One row serializes every
// claim of a promotion (each holds the row's lock until it commits); K rows let K claims
// commit at once. Small cards keep one row: their claims rarely meet, and one row gives
// each winner a distinct count. See docs/performance.md ("Slot shards").

export type SlotShardsSetting = 'auto' | number;

/** A shard never holds less than one slot, and K stays small enough to scan in a claim. */
export const MAX_SLOT_SHARDS = 64;

/** `auto`: K by the card's size, from the bench (docs/performance.md). */
export function autoSlotShards(usageLimit: number): number {
  if (usageLimit < 1000) return 1;
  if (usageLimit < 10_000) return 4;
  return 16;
}

/** K for a card of `usageLimit` slots under GIFT_CARD_SLOT_SHARDS: never more than its slots. */
export function slotShardsFor(usageLimit: number, setting: SlotShardsSetting): number {
  const wanted = setting === 'auto' ? autoSlotShards(usageLimit) : setting;
  return Math.max(1, Math.min(wanted, usageLimit, MAX_SLOT_SHARDS));
}
