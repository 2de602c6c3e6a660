// `giftpay issue`: cards (or a promotion) issued in batches within the API's per-call limit,
// each batch's codes appended to the CSV and flushed to disk as soon as it comes back. The
// API shows a code only in the answer that issued it, so the file is the only copy: an
// interruption or a failure loses nothing already issued, and Ctrl-C waits for the batch in
// flight before stopping.

import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { type Command, integerOption, type OptionValues, sessionClient, stringOption } from '../command.ts';
import { EXIT_INTERRUPTED, NetworkError, UsageError } from '../errors.ts';
import { createProgress, csvLine } from '../terminal.ts';

/** The most cards one issueGiftCards call may issue (the API's `count` limit). */
export const MAX_BATCH = 10_000;
const DEFAULT_BATCH = 1000;

const ISSUE = `mutation GiftpayCliIssue($input: IssueGiftCardsInput!) {
  issueGiftCards(input: $input) {
    giftCards { code giftCard { id last4 value { amount currencyCode } usageLimit expiresAt createdAt } }
  }
}`;

interface IssueData {
  issueGiftCards: {
    giftCards: {
      code: string;
      giftCard: { id: string; last4: string; value: { amount: string; currencyCode: string }; usageLimit: number; expiresAt: string | null; createdAt: string };
    }[];
  };
}

export const CSV_HEADER = ['code', 'id', 'amount', 'currency', 'usage_limit', 'expires_at', 'created_at'];

interface IssuePlan {
  readonly amount: string;
  readonly currency: string;
  readonly count: number;
  readonly usageLimit: number;
  readonly code: string | undefined;
  readonly expiresAt: string | undefined;
  readonly batchSize: number;
  readonly out: string;
  readonly force: boolean;
}

/** A path as the user typed it: `pnpm giftpay` runs in the repository's root, INIT_CWD is where the user was. */
function resolveOutput(path: string, env: NodeJS.ProcessEnv): string {
  if (path === '-' || isAbsolute(path)) return path;
  const base = env.npm_lifecycle_event === 'giftpay' && env.INIT_CWD ? env.INIT_CWD : process.cwd();
  return resolve(base, path);
}

export function planIssue(values: OptionValues, env: NodeJS.ProcessEnv): IssuePlan {
  const amount = stringOption(values, 'value')?.trim();
  if (!amount) throw new UsageError('--value is required: the amount each card credits, e.g. --value 1000000.');
  if (!/^\d+(\.\d+)?$/.test(amount)) throw new UsageError(`--value must be a decimal amount such as 1000000 or 12.50, got "${amount}".`);
  const currency = stringOption(values, 'currency')?.trim().toUpperCase();
  if (!currency) throw new UsageError('--currency is required: an ISO 4217 code, e.g. --currency IRR.');
  if (!/^[A-Z]{3}$/.test(currency)) throw new UsageError(`--currency must be a three-letter ISO 4217 code such as IRR, got "${currency}".`);
  const count = integerOption(values, 'count', 1, 1);
  const usageLimit = integerOption(values, 'usage-limit', 1, 1);
  const code = stringOption(values, 'code')?.trim() || undefined;
  if (code !== undefined && count !== 1) throw new UsageError('--code issues one promotion: it cannot be combined with --count other than 1.');
  const expires = stringOption(values, 'expires');
  let expiresAt: string | undefined;
  if (expires !== undefined) {
    const time = Date.parse(expires);
    if (Number.isNaN(time)) throw new UsageError(`--expires must be an ISO-8601 date or instant such as 2026-12-31T23:59:59Z, got "${expires}".`);
    expiresAt = new Date(time).toISOString();
  }
  const batchSize = integerOption(values, 'batch-size', DEFAULT_BATCH, 1, MAX_BATCH);
  const out = stringOption(values, 'out');
  if (!out) throw new UsageError('--out is required: the CSV file the codes are written to (or - for stdout). The API shows each code only once.');
  return { amount, currency, count, usageLimit, code, expiresAt, batchSize, out: resolveOutput(out, env), force: values.force === true };
}

interface Output {
  write(text: string): void;
  close(): void;
  /** Removes the file when nothing was written to it but the header. */
  discard(): void;
  readonly label: string;
}

function openOutput(path: string, force: boolean): Output {
  if (path === '-') return { write: (text) => writeSync(1, text), close() {}, discard() {}, label: 'stdout' };
  let fd: number;
  try {
    // Never overwrite a file of codes by accident: they cannot be asked for again.
    fd = openSync(path, force ? 'w' : 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new UsageError(`${path} already exists: it may hold codes shown only once. Choose another --out, or pass --force to overwrite it.`);
    throw new UsageError(`Cannot create ${path}: ${code ?? (error as Error).message}.`);
  }
  let open = true;
  return {
    write(text) {
      writeSync(fd, text);
      fsyncSync(fd);
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
    discard() {
      this.close();
      rmSync(path, { force: true });
    },
    label: path,
  };
}

function withHint(error: unknown, hint: string): unknown {
  if (error instanceof Error) Object.assign(error, { hint: [(error as { hint?: string }).hint, hint].filter(Boolean).join('\n') });
  return error;
}

export const issue: Command = {
  words: ['issue'],
  summary: 'issue gift cards or a promotion, codes to a CSV file',
  synopsis: 'issue --value AMOUNT --currency CODE [--count N] --out FILE [--usage-limit N] [--code CODE] [--expires WHEN]',
  details: `  --value AMOUNT    what each card credits, e.g. 1000000 (IRR) or 12.50
  --currency CODE   ISO 4217, e.g. IRR
  --count N         how many cards (default 1); issued ${DEFAULT_BATCH} per call, at most ${MAX_BATCH} (--batch-size)
  --out FILE        the CSV of codes (- for stdout); refuses to overwrite a file unless --force
  --usage-limit N   a promotion: how many users may redeem each code, once each (default 1)
  --code CODE       a promotion's chosen code (only with --count 1)
  --expires WHEN    an ISO-8601 instant or date after which the cards cannot be redeemed
  --batch-size N    cards per API call, 1 to ${MAX_BATCH} (default ${DEFAULT_BATCH})
  --force           overwrite --out if it exists

The CSV (code,id,amount,currency,usage_limit,expires_at,created_at) is written and flushed
batch by batch: it is the only copy of the codes. Ctrl-C stops after the batch in flight,
whose codes are written too; a second Ctrl-C quits at once and may lose that batch's codes.`,
  options: {
    value: { type: 'string' },
    currency: { type: 'string' },
    count: { type: 'string' },
    out: { type: 'string', short: 'o' },
    'usage-limit': { type: 'string' },
    code: { type: 'string' },
    expires: { type: 'string' },
    'batch-size': { type: 'string' },
    force: { type: 'boolean' },
  },
  operands: { min: 0, max: 0, names: '' },
  graceful: true,
  async run({ values, env, interrupt }) {
    const plan = planIssue(values, env);
    const client = sessionClient({ values, env });
    const output = openOutput(plan.out, plan.force);
    output.write(csvLine(CSV_HEADER));
    const progress = createProgress('Issuing');
    const startedAt = new Date().toISOString();
    let issued = 0;
    let batches = 0;
    let lastId = '';
    try {
      while (issued < plan.count) {
        if (interrupt.aborted) break;
        const size = Math.min(plan.batchSize, plan.count - issued);
        const data = await client.request<IssueData>(ISSUE, {
          input: {
            value: { amount: plan.amount, currencyCode: plan.currency },
            count: size,
            usageLimit: plan.usageLimit,
            ...(plan.code ? { code: plan.code } : {}),
            ...(plan.expiresAt ? { expiresAt: plan.expiresAt } : {}),
          },
        });
        const cards = data.issueGiftCards.giftCards;
        output.write(
          cards
            .map(({ code, giftCard: card }) =>
              csvLine([code, card.id, card.value.amount, card.value.currencyCode, card.usageLimit, card.expiresAt ?? '', card.createdAt]),
            )
            .join(''),
        );
        issued += cards.length;
        batches += 1;
        lastId = cards.at(-1)?.giftCard.id ?? lastId;
        progress.update(issued, plan.count);
      }
    } catch (error) {
      progress.end();
      if (issued === 0) {
        output.discard();
        throw error;
      }
      output.close();
      const lost =
        error instanceof NetworkError
          ? `\nThe batch in flight may have been issued without its codes reaching us: look for cards created after ${startedAt} with \`pnpm giftpay cards list\` that are not in the file, and disable them.`
          : '';
      throw withHint(error, `${issued} of ${plan.count} cards were issued before the failure; their codes are in ${output.label}.${lost}`);
    }
    progress.end();
    output.close();
    const what =
      plan.usageLimit > 1 || plan.code
        ? `promotion code(s) of ${plan.amount} ${plan.currency} for ${plan.usageLimit} users each`
        : `gift card(s) of ${plan.amount} ${plan.currency}`;
    if (issued < plan.count) {
      process.stderr.write(`Interrupted: issued ${issued} of ${plan.count} ${what}; all ${issued} codes are in ${output.label}. Nothing else was issued.\n`);
      return EXIT_INTERRUPTED;
    }
    process.stderr.write(
      `Issued ${issued} ${what} in ${batches} batch(es). The codes are in ${output.label}, the only copy: the API never shows a code again, keep it safe.\n`,
    );
    if (plan.count === 1 && plan.usageLimit > 1)
      process.stderr.write(`Promotion id ${lastId}: watch it fill up with \`pnpm giftpay promotion watch ${lastId}\`.\n`);
    return 0;
  },
};
