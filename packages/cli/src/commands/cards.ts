// `giftpay cards list` (every card, page by page, newest first), `giftpay cards disable ID` and
// `giftpay cards enable ID`.

import { type Command, integerOption, sessionClient, stringOption } from '../command.ts';
import { UsageError } from '../errors.ts';
import { csvLine, table } from '../terminal.ts';

/** The most a connection pages at once (the API's `first` limit). */
const PAGE_SIZE = 100;
const STATUSES = ['ACTIVE', 'USED_UP', 'DISABLED', 'EXPIRED'];

const CARD_FIELDS = 'id last4 value { amount currencyCode } status usageLimit redemptionCount expiresAt createdAt';

const LIST = `query GiftpayCliCards($first: Int!, $after: String, $filter: GiftCardFilter) {
  giftCards(first: $first, after: $after, filter: $filter) { edges { node { ${CARD_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;

export interface CardRow {
  id: string;
  last4: string;
  value: { amount: string; currencyCode: string };
  status: string;
  usageLimit: number;
  redemptionCount: number;
  expiresAt: string | null;
  createdAt: string;
}

interface ListData {
  giftCards: { edges: { node: CardRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const HEADER = ['id', 'last4', 'amount', 'currency', 'status', 'redemptions', 'usage_limit', 'expires_at', 'created_at'];

const cells = (card: CardRow): string[] => [
  card.id,
  card.last4,
  card.value.amount,
  card.value.currencyCode,
  card.status,
  String(card.redemptionCount),
  String(card.usageLimit),
  card.expiresAt ?? '',
  card.createdAt,
];

export const cardsList: Command = {
  words: ['cards', 'list'],
  summary: 'list gift cards and promotions, newest first',
  synopsis: 'cards list [--status STATUS[,STATUS]] [--limit N] [--csv | --json]',
  details: `  --status S,...    only cards in these statuses: ${STATUSES.join(', ')} (one status is filtered by the API; several, here)
  --limit N         stop after N cards (default: every card, ${PAGE_SIZE} per API call)
  --csv             CSV (${HEADER.join(',')}) instead of a table
  --json            a JSON array of cards as the API gives them`,
  options: { status: { type: 'string' }, limit: { type: 'string' }, csv: { type: 'boolean' }, json: { type: 'boolean' } },
  operands: { min: 0, max: 0, names: '' },
  async run({ values, env }) {
    if (values.csv && values.json) throw new UsageError('Choose one of --csv and --json.');
    const limit = integerOption(values, 'limit', Number.MAX_SAFE_INTEGER, 1);
    const statuses = stringOption(values, 'status')
      ?.split(',')
      .map((status) => status.trim().toUpperCase().replace('-', '_'))
      .filter(Boolean);
    const unknown = statuses?.filter((status) => !STATUSES.includes(status)) ?? [];
    if (unknown.length > 0) throw new UsageError(`--status must be among ${STATUSES.join(', ')}; got ${unknown.join(', ')}.`);
    const client = sessionClient({ values, env });
    const cards: CardRow[] = [];
    // One status: the API filters (only matching cards cross the network). Several: every card is read and filtered here.
    const filter = statuses?.length === 1 ? { status: statuses[0] } : null;
    let after: string | null = null;
    for (;;) {
      const page: ListData = await client.request<ListData>(LIST, { first: PAGE_SIZE, after, filter });
      for (const { node } of page.giftCards.edges) if (!statuses || statuses.includes(node.status)) cards.push(node);
      if (cards.length >= limit || !page.giftCards.pageInfo.hasNextPage || !page.giftCards.pageInfo.endCursor) break;
      after = page.giftCards.pageInfo.endCursor;
    }
    const shown = cards.slice(0, limit);
    if (values.json) process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    else if (values.csv) process.stdout.write([csvLine(HEADER), ...shown.map((card) => csvLine(cells(card)))].join(''));
    else {
      process.stdout.write(
        shown.length === 0
          ? 'No cards.\n'
          : table(
              HEADER.map((title) => title.toUpperCase()),
              shown.map(cells),
            ),
      );
    }
    return 0;
  },
};

/** `cards disable ID` and `cards enable ID`: one admin mutation on one card, with an optional reason for its history, then one line saying what it did. */
function cardCommand(word: 'disable' | 'enable', mutation: 'disableGiftCard' | 'enableGiftCard', done: string, summary: string): Command {
  const document = `mutation GiftpayCli${word === 'disable' ? 'Disable' : 'Enable'}($id: ID!, $reason: String) { ${mutation}(id: $id, reason: $reason) { ${CARD_FIELDS} } }`;
  return {
    words: ['cards', word],
    summary,
    synopsis: `cards ${word} ID [--reason TEXT]`,
    details: [
      "  ID                the card's id, as `issue` wrote it or `cards list` shows it",
      `  --reason TEXT     why, kept with who and when in the card's history (GiftCard.events); 1 to 200 printable characters`,
    ].join('\n'),
    options: { reason: { type: 'string' } },
    operands: { min: 1, max: 1, names: 'ID' },
    async run({ values, env, operands }) {
      const reason = stringOption(values, 'reason') ?? null;
      const data = await sessionClient({ values, env }).request<Record<string, CardRow>>(document, { id: operands[0] ?? '', reason });
      const card = data[mutation] as CardRow;
      process.stdout.write(`${done} card ${card.id} (…${card.last4}, ${card.value.amount} ${card.value.currencyCode}): status ${card.status}.\n`);
      return 0;
    },
  };
}

export const cardsDisable = cardCommand(
  'disable',
  'disableGiftCard',
  'Disabled',
  'disable a card or promotion: activating it answers GIFT_CARD_DISABLED from then on',
);
export const cardsEnable = cardCommand('enable', 'enableGiftCard', 'Enabled', 'enable a card or promotion disabled by mistake: it can be redeemed again');
