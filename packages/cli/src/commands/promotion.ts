// `giftpay promotion watch ID`: the live count of a promotion's redemptions against its
// slots, polled from the API until every slot is taken, the promotion stops (disabled,
// expired), or Ctrl-C (which exits 0: stopping to watch changes nothing).

import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, secondsOption, sessionClient } from '../command.ts';
import { ApiError, NetworkError } from '../errors.ts';
import { progressBar } from '../terminal.ts';
import type { CardRow } from './cards.ts';

const WATCH = `query GiftpayCliPromotion($id: ID!) {
  giftCard(id: $id) { id last4 value { amount currencyCode } status usageLimit redemptionCount expiresAt createdAt }
}`;

/** One line of the count, e.g. `37/100 redeemed (37%), ACTIVE`. */
export function describeCount(card: Pick<CardRow, 'redemptionCount' | 'usageLimit' | 'status'>): string {
  const percent = Math.floor((card.redemptionCount / card.usageLimit) * 100);
  return `${card.redemptionCount}/${card.usageLimit} redeemed (${percent}%), ${card.status}`;
}

const transient = (error: unknown) =>
  error instanceof NetworkError || (error instanceof ApiError && error.codes.every((code) => code === 'SERVICE_UNAVAILABLE'));

export const promotionWatch: Command = {
  words: ['promotion', 'watch'],
  summary: "watch a promotion's redemptions fill its slots, live",
  synopsis: 'promotion watch ID [--interval SECONDS] [--once]',
  details: `  ID                the promotion's id (\`issue\` prints it)
  --interval S      seconds between polls (default 2, at least 0.1)
  --once            print the count once and exit

Polls until every slot is taken (USED_UP), the promotion is disabled or expires, or Ctrl-C.
On a terminal the count is redrawn in place with a bar; otherwise a line is printed each
time it changes.`,
  options: { interval: { type: 'string' }, once: { type: 'boolean' } },
  operands: { min: 1, max: 1, names: 'ID' },
  graceful: true,
  async run({ values, env, operands, interrupt }) {
    const id = operands[0] ?? '';
    const intervalMs = secondsOption(values, 'interval', 2, 0.1) * 1000;
    const client = sessionClient({ values, env });
    const tty = process.stdout.isTTY === true;
    let last = '';
    let card: CardRow | null = null;
    for (;;) {
      try {
        const data = await client.request<{ giftCard: CardRow | null }>(WATCH, { id }, { signal: interrupt });
        card = data.giftCard;
        if (!card) throw new ApiError([{ message: `No card or promotion has the id ${id}.`, extensions: { code: 'GIFT_CARD_NOT_FOUND' } }], 200);
        const line = describeCount(card);
        if (tty) process.stdout.write(`\r${progressBar(card.redemptionCount, card.usageLimit, 40)}  ${card.status.padEnd(8)}`);
        else if (line !== last) process.stdout.write(`${new Date().toISOString()}  ${line}\n`);
        last = line;
        if (values.once || card.status !== 'ACTIVE') break;
      } catch (error) {
        if (interrupt.aborted) break;
        if (!transient(error)) throw error;
        process.stderr.write(`warning: ${(error as Error).message}; trying again.\n`);
      }
      try {
        await sleep(intervalMs, undefined, { signal: interrupt });
      } catch {
        break; // Ctrl-C
      }
    }
    if (tty) process.stdout.write('\n');
    if (card && !values.once) {
      const ending =
        card.status === 'USED_UP'
          ? `Full: every slot is taken, ${card.redemptionCount}/${card.usageLimit}.`
          : card.status === 'ACTIVE'
            ? `Stopped watching at ${card.redemptionCount}/${card.usageLimit}.`
            : `The promotion is ${card.status}, at ${card.redemptionCount}/${card.usageLimit}.`;
      process.stdout.write(`${ending}\n`);
    }
    return 0;
  },
};
