// The admin CLI against the real stack: `node packages/cli/src/main.ts` as a child process,
// talking to the in-process gateway and subgraphs over HTTP, with a real PostgreSQL behind
// them and its session in a temporary config folder of each test's own. Codes written to
// CSV are activated by real users; what was issued is checked against the tables, scoped to
// the test's own distinctive card value.

import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ACTIVATE_GIFT_CARD,
  type ActivationData,
  ADMIN_PASSWORD,
  ADMIN_USERNAME,
  type CliOptions,
  createTestDatabase,
  runCli,
  type SignedIn,
  type Stack,
  startCli,
  startStack,
  type TestDatabase,
  tempConfigHome,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const USER_PASSWORD = 'a-long-enough-password'; // what stack.signUp gives every user
const REPOSITORY_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

let database: TestDatabase;
let stack: Stack;
let url: string;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  url = `${stack.gatewayUrl}/graphql`;
});

afterAll(async () => {
  await stack?.close();
});

/** A config folder of the test's own, removed in `finally`. */
async function withConfig<T>(body: (options: CliOptions, home: string) => Promise<T>): Promise<T> {
  const home = tempConfigHome();
  try {
    return await body({ configHome: home.path }, home.path);
  } finally {
    home.remove();
  }
}

async function logInAsAdmin(options: CliOptions): Promise<void> {
  const result = await runCli(['login', '--url', url, '--username', ADMIN_USERNAME, '--password-stdin'], { ...options, input: `${ADMIN_PASSWORD}\n` });
  expect(result.stderr).toContain(`as ${ADMIN_USERNAME}`);
  expect(result.code).toBe(0);
}

/** A card value no other test uses, so the tables can be asked about this test's cards alone. */
function distinctiveAmount(): string {
  return String(1_000_000 + (randomBytes(4).readUInt32BE() % 8_000_000));
}

interface CsvCard {
  code: string;
  id: string;
  amount: string;
  currency: string;
  usage_limit: string;
  expires_at: string;
  created_at: string;
}

function readCsv(path: string): { header: string[]; rows: CsvCard[] } {
  const [headerLine = '', ...lines] = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  const header = headerLine.split(',');
  return { header, rows: lines.map((line) => Object.fromEntries(line.split(',').map((value, index) => [header[index], value])) as unknown as CsvCard) };
}

async function issuedInTables(amount: string): Promise<number> {
  const [row] = await database.sql`select count(*)::int as n from gift_cards.gift_cards where value_amount = ${amount}`;
  return row?.n ?? -1;
}

function activate(user: SignedIn, code: string) {
  return stack.graphql<ActivationData>(ACTIVATE_GIFT_CARD, { token: user.token, variables: { code } });
}

async function balanceOf(user: SignedIn): Promise<string> {
  const result = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
  return result.data?.me.wallet.balance.amount ?? 'none';
}

/** A URL on which nothing listens. */
async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 1}/graphql`;
}

describe('giftpay login', () => {
  it('logs in with the password from stdin and keeps a working token, readable by its owner alone, beside the gateway URL', async () => {
    await withConfig(async (options, home) => {
      await logInAsAdmin(options);
      const path = join(home, 'giftpay', 'credentials.json');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const saved = JSON.parse(readFileSync(path, 'utf8')) as { url: string; token: string; username: string; expiresAt: string };
      expect(saved).toMatchObject({ url, username: ADMIN_USERNAME });
      expect(Date.parse(saved.expiresAt)).toBeGreaterThan(Date.now());
      const me = await stack.graphql<{ me: { roles: string[] } }>('{ me { roles } }', { token: saved.token });
      expect(me.data?.me.roles).toContain('admin');
    });
  });

  it('logs in from GIFTPAY_URL, GIFTPAY_USERNAME and GIFTPAY_PASSWORD, as scripts do', async () => {
    await withConfig(async (options) => {
      const result = await runCli(['login'], { ...options, env: { GIFTPAY_URL: url, GIFTPAY_USERNAME: ADMIN_USERNAME, GIFTPAY_PASSWORD: ADMIN_PASSWORD } });
      expect(result.code).toBe(0);
      const list = await runCli(['cards', 'list', '--limit', '1', '--json'], options);
      expect(list.code).toBe(0);
    });
  });

  it('refuses a wrong password with INVALID_CREDENTIALS and exit 1, keeping no session', async () => {
    const user = await stack.signUp();
    await withConfig(async (options, home) => {
      const result = await runCli(['login', '--url', url, '--username', user.username, '--password-stdin'], { ...options, input: 'not-the-password\n' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: INVALID_CREDENTIALS: /m);
      expect(existsSync(join(home, 'giftpay', 'credentials.json'))).toBe(false);
    });
  });

  it('says the gateway cannot be reached, with exit 1', async () => {
    await withConfig(async (options) => {
      const result = await runCli(['login', '--url', await closedUrl(), '--username', ADMIN_USERNAME, '--password-stdin'], {
        ...options,
        input: ADMIN_PASSWORD,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/error: Cannot reach http:\/\/127\.0\.0\.1:\d+\/graphql: ECONNREFUSED/);
    });
  });
});

describe('giftpay issue', () => {
  it('issues more cards than one batch holds, every code in the CSV, each of which activates once', async () => {
    await withConfig(async (options, home) => {
      await logInAsAdmin(options);
      const amount = distinctiveAmount();
      const out = join(home, 'cards.csv');
      const result = await runCli(['issue', '--value', amount, '--currency', 'IRR', '--count', '25', '--batch-size', '10', '--out', out], options);
      expect(result.stderr).toContain('Issued 25 gift card(s)');
      expect(result.stderr).toContain('in 3 batch(es)');
      expect(result.code).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const { header, rows } = readCsv(out);
      expect(header).toEqual(['code', 'id', 'amount', 'currency', 'usage_limit', 'expires_at', 'created_at']);
      expect(rows).toHaveLength(25);
      expect(new Set(rows.map((row) => row.code)).size).toBe(25);
      expect(rows.every((row) => row.amount === amount && row.currency === 'IRR' && row.usage_limit === '1')).toBe(true);
      expect(await issuedInTables(amount)).toBe(25);

      const user = await stack.signUp();
      for (const row of rows) {
        const activation = await activate(user, row.code);
        expect(activation.errors).toBeUndefined();
        expect(activation.data?.activateGiftCard.giftCard.id).toBe(row.id);
      }
      expect(await balanceOf(user)).toBe(String(25n * BigInt(amount)));
    });
  });

  it('issues a promotion with a chosen code, a usage limit and an expiry, and says how to watch it', async () => {
    await withConfig(async (options, home) => {
      await logInAsAdmin(options);
      const code = `spring-${randomBytes(4).toString('hex')}`;
      const expires = new Date(Date.now() + 86_400_000).toISOString();
      const out = join(home, 'promotion.csv');
      const result = await runCli(
        ['issue', '--value', '50000', '--currency', 'irr', '--usage-limit', '3', '--code', code, '--expires', expires, '--out', out],
        options,
      );
      expect(result.code).toBe(0);
      const [row] = readCsv(out).rows;
      expect(row).toMatchObject({ code: code.toUpperCase(), usage_limit: '3', expires_at: expires, currency: 'IRR' });
      expect(result.stderr).toContain(`pnpm giftpay promotion watch ${row?.id}`);
      const users = [await stack.signUp(), await stack.signUp()];
      for (const user of users) expect((await activate(user, code)).data?.activateGiftCard.giftCard.redemptionCount).toBeGreaterThan(0);
    });
  });

  it('stops after the batch in flight on Ctrl-C, with every card it issued in the CSV', async () => {
    await withConfig(async (options, home) => {
      await logInAsAdmin(options);
      const amount = distinctiveAmount();
      const out = join(home, 'interrupted.csv');
      const running = startCli(['issue', '--value', amount, '--currency', 'IRR', '--count', '5000', '--batch-size', '10', '--out', out], options);
      try {
        // Once the first batch is on disk (a header and at least one row), interrupt.
        const deadline = Date.now() + 60_000;
        while (!(existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 2) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        running.child.kill('SIGINT');
        const result = await running.exited;
        expect(result.stderr).toContain('Stopping after the batch in flight');
        expect(result.code).toBe(130);
        const { rows } = readCsv(out);
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.length).toBeLessThan(5000);
        expect(result.stderr).toContain(`Interrupted: issued ${rows.length} of 5000`);
        expect(await issuedInTables(amount)).toBe(rows.length);
      } finally {
        running.child.kill('SIGKILL');
      }
    });
  });

  it('answers FORBIDDEN, with a hint, to a user who is not an admin, and leaves no CSV behind', async () => {
    const user = await stack.signUp();
    await withConfig(async (options, home) => {
      const login = await runCli(['login', '--url', url], { ...options, env: { GIFTPAY_USERNAME: user.username, GIFTPAY_PASSWORD: USER_PASSWORD } });
      expect(login.code).toBe(0);
      expect(login.stderr).toContain('is not an admin');
      const out = join(home, 'cards.csv');
      const result = await runCli(['issue', '--value', '1000', '--currency', 'IRR', '--out', out], options);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: FORBIDDEN: /m);
      expect(result.stderr).toContain('needs an admin account');
      expect(existsSync(out)).toBe(false);
      const list = await runCli(['cards', 'list'], options);
      expect(list.code).toBe(1);
      expect(list.stderr).toMatch(/^error: FORBIDDEN: /m);
    });
  });

  it('prints the API error code when the API refuses the input, and issues nothing', async () => {
    await withConfig(async (options, home) => {
      await logInAsAdmin(options);
      const out = join(home, 'cards.csv');
      const result = await runCli(['issue', '--value', '1000', '--currency', 'IRR', '--expires', '2001-01-01T00:00:00Z', '--out', out], options);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: BAD_USER_INPUT: .*expiresAt/m);
      expect(existsSync(out)).toBe(false);
    });
  });

  it('refuses to overwrite an existing file of codes, and issues nothing', async () => {
    await withConfig(async (options, home) => {
      await logInAsAdmin(options);
      const amount = distinctiveAmount();
      const out = join(home, 'kept.csv');
      writeFileSync(out, 'codes from last week\n');
      const result = await runCli(['issue', '--value', amount, '--currency', 'IRR', '--out', out], options);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('already exists');
      expect(readFileSync(out, 'utf8')).toBe('codes from last week\n');
      expect(await issuedInTables(amount)).toBe(0);
    });
  });
});

describe('giftpay cards', () => {
  it('lists every card across pages, as CSV, JSON and a table, and filters by status', async () => {
    const admin = await stack.logInAdmin();
    const amount = distinctiveAmount();
    const issued = await stack.graphql<{ issueGiftCards: { giftCards: { giftCard: { id: string } }[] } }>(
      'mutation ($input: IssueGiftCardsInput!) { issueGiftCards(input: $input) { giftCards { giftCard { id } } } }',
      { token: admin.token, variables: { input: { value: { amount, currencyCode: 'IRR' }, count: 120 } } },
    );
    const ids = issued.data?.issueGiftCards.giftCards.map((card) => card.giftCard.id) ?? [];
    expect(ids).toHaveLength(120);
    const disabledId = ids[7] ?? '';
    await stack.graphql('mutation ($id: ID!) { disableGiftCard(id: $id) { id } }', { token: admin.token, variables: { id: disabledId } });

    await withConfig(async (options) => {
      await logInAsAdmin(options);
      const csv = await runCli(['cards', 'list', '--csv'], options);
      expect(csv.code).toBe(0);
      const lines = csv.stdout.trim().split('\n');
      expect(lines[0]).toBe('id,last4,amount,currency,status,redemptions,usage_limit,expires_at,created_at');
      const listed = new Set(lines.slice(1).map((line) => line.split(',')[0]));
      expect(ids.filter((id) => !listed.has(id))).toEqual([]); // 120 cards: more than one page of 100

      const json = await runCli(['cards', 'list', '--json', '--status', 'disabled'], options);
      expect(json.code).toBe(0);
      const disabled = JSON.parse(json.stdout) as { id: string; status: string }[];
      expect(disabled.map((card) => card.id)).toContain(disabledId);
      expect(disabled.every((card) => card.status === 'DISABLED')).toBe(true);
      // Two statuses: filtered by the CLI from every card.
      const either = await runCli(['cards', 'list', '--json', '--status', 'disabled,active'], options);
      const some = JSON.parse(either.stdout) as { id: string; status: string }[];
      expect(some.map((card) => card.id)).toEqual(expect.arrayContaining([disabledId, ids[8], ids[119]]));
      expect(new Set(some.map((card) => card.status))).toEqual(new Set(['DISABLED', 'ACTIVE']));

      const tableOut = await runCli(['cards', 'list', '--limit', '3'], options);
      expect(tableOut.code).toBe(0);
      const rows = tableOut.stdout.trim().split('\n');
      expect(rows[0]).toMatch(/^ID +LAST4 +AMOUNT +CURRENCY +STATUS +REDEMPTIONS/);
      expect(rows).toHaveLength(4);
    });
  });

  it('disables a card, after which activating it answers GIFT_CARD_DISABLED, and enables it again, after which it activates', async () => {
    const card = await stack.issueGiftCard();
    await withConfig(async (options) => {
      await logInAsAdmin(options);
      const result = await runCli(['cards', 'disable', card.id, '--reason', 'reported stolen'], options);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Disabled card ${card.id}`);
      expect(result.stdout).toContain('status DISABLED');
      const user = await stack.signUp();
      const activation = await activate(user, card.code);
      expect(activation.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_DISABLED');
      // Disabled by mistake: enabled again, the same user redeems it.
      const enabled = await runCli(['cards', 'enable', card.id], options);
      expect(enabled.code).toBe(0);
      expect(enabled.stdout).toContain(`Enabled card ${card.id}`);
      expect(enabled.stdout).toContain('status ACTIVE');
      const again = await activate(user, card.code);
      expect(again.errors).toBeUndefined();
      // The card's history names the admin and keeps the reason given on the command line.
      const history = await database.sql`select action, reason from gift_cards.card_events where gift_card_id = ${card.id} order by seq`;
      expect(history.map((row) => ({ ...row }))).toEqual([
        { action: 'ISSUED', reason: null },
        { action: 'DISABLED', reason: 'reported stolen' },
        { action: 'ENABLED', reason: null },
      ]);
      // A reason the API refuses: its code, exit 1, and the card unchanged.
      const refused = await runCli(['cards', 'disable', card.id, '--reason', ' '], options);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('BAD_USER_INPUT');
    });
  });

  it('answers GIFT_CARD_NOT_FOUND with exit 1 for an id no card has', async () => {
    await withConfig(async (options) => {
      await logInAsAdmin(options);
      const result = await runCli(['cards', 'disable', randomUUID()], options);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: GIFT_CARD_NOT_FOUND: /m);
    });
  });
});

describe('giftpay promotion watch', () => {
  it('shows the redemptions filling the slots live and ends when every slot is taken', async () => {
    const promotion = await stack.issueGiftCard({ amount: '7000', usageLimit: 3 });
    const users = [await stack.signUp(), await stack.signUp(), await stack.signUp()];
    await withConfig(async (options) => {
      await logInAsAdmin(options);
      const watching = startCli(['promotion', 'watch', promotion.id, '--interval', '0.2'], options);
      try {
        await watching.waitFor(/0\/3 redeemed \(0%\), ACTIVE/);
        expect((await activate(users[0] as SignedIn, promotion.code)).errors).toBeUndefined();
        await watching.waitFor(/1\/3 redeemed \(33%\), ACTIVE/);
        for (const user of users.slice(1)) expect((await activate(user, promotion.code)).errors).toBeUndefined();
        const result = await watching.exited;
        expect(result.code).toBe(0);
        expect(result.stdout).toMatch(/3\/3 redeemed \(100%\), USED_UP/);
        expect(result.stdout).toContain('Full: every slot is taken, 3/3.');
      } finally {
        watching.child.kill('SIGKILL');
      }
    });
  });

  it('prints the count once with --once', async () => {
    const promotion = await stack.issueGiftCard({ amount: '7000', usageLimit: 5 });
    await activate(await stack.signUp(), promotion.code);
    await withConfig(async (options) => {
      await logInAsAdmin(options);
      const result = await runCli(['promotion', 'watch', promotion.id, '--once'], options);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^\S+ {2}1\/5 redeemed \(20%\), ACTIVE\n$/);
    });
  });

  it('stops watching on Ctrl-C with exit 0', async () => {
    const promotion = await stack.issueGiftCard({ amount: '7000', usageLimit: 5 });
    await withConfig(async (options) => {
      await logInAsAdmin(options);
      const watching = startCli(['promotion', 'watch', promotion.id, '--interval', '0.2'], options);
      try {
        await watching.waitFor(/0\/5 redeemed/);
        watching.child.kill('SIGINT');
        const result = await watching.exited;
        expect(result.code).toBe(0);
        expect(result.stdout).toContain('Stopped watching at 0/5.');
      } finally {
        watching.child.kill('SIGKILL');
      }
    });
  });
});

describe('giftpay reconcile', () => {
  it('says the books balance and every credited redemption was credited once (exit 0), then names what is amiss and lists PENDING ones with their age (exit 1)', async () => {
    const user = await stack.signUp();
    const { code, id: cardId } = await stack.issueGiftCard({ amount: '13', usageLimit: 5 });
    const activated = await stack.graphql<ActivationData>(ACTIVATE_GIFT_CARD, { token: user.token, variables: { code } });
    expect(activated.data?.activateGiftCard.redemption.status).toBe('CREDITED');
    await withConfig(async (options) => {
      const clean = await runCli(['reconcile', '--database-url', database.url], options);
      expect(clean.stderr).toBe('');
      expect(clean.stdout).toMatch(/^IRR +[\d.]+ IRR +[\d.]+ IRR +[\d.]+ IRR +[\d.]+ IRR +0 IRR +0 +0 *$/m);
      expect(clean.stdout).toContain('Balanced: every currency at 0');
      expect(clean.stdout).toContain('every CREDITED redemption has exactly one matching credit entry');
      expect(clean.stdout).toContain('PENDING: 0 ');
      expect(clean.code).toBe(0);

      // Behind the services' backs: a redemption marked CREDITED whose credit never reached a
      // wallet, and one still owed after a minute and a half.
      const [lost] = await database.sql`insert into gift_cards.redemptions (gift_card_id, user_id, amount, currency_code, status, credited_at)
        values (${cardId}, ${randomUUID()}, 1300, 'IRR', 'CREDITED', now()) returning id`;
      const [owed] =
        await database.sql`insert into gift_cards.redemptions (gift_card_id, user_id, amount, currency_code, status, attempts, last_error, created_at)
        values (${cardId}, ${randomUUID()}, 1300, 'IRR', 'PENDING', 3, 'wallet answered 503', now() - interval '90 seconds') returning id`;
      try {
        const amiss = await runCli(['reconcile', '--database-url', database.url], options);
        expect(amiss.stdout).toMatch(new RegExp(`^${lost?.id} +CREDITED, but no credit entry in the wallet *$`, 'm'));
        expect(amiss.stdout).toContain('PENDING: 1 (0 parked; 0 already in the wallet, not yet marked), oldest first:');
        expect(amiss.stdout).toMatch(new RegExp(`^${owed?.id} +\\S+ +9\\d s +3 +owed +wallet answered 503 *$`, 'm'));
        expect(amiss.code).toBe(1);
      } finally {
        await database.sql`delete from gift_cards.redemptions where id in (${lost?.id}, ${owed?.id})`;
      }
    });
  });

  it('says which database it cannot read, without its password, with exit 1', async () => {
    await withConfig(async (options) => {
      const port = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const address = probe.address();
          probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
        });
      });
      const result = await runCli(['reconcile', '--database-url', `postgres://giftpay:hunter2-secret@127.0.0.1:${port}/giftpay`], options);
      expect(result.stderr).toContain(`error: cannot read postgres://giftpay:***@127.0.0.1:${port}/giftpay`);
      expect(result.stderr).not.toContain('hunter2');
      expect(result.code).toBe(1);
    });
  });
});

describe('giftpay without a usable session or with a wrong command line', () => {
  it('tells the user to run `pnpm giftpay login` when there is no session, it expired, or it is for another gateway', async () => {
    await withConfig(async (options, home) => {
      const none = await runCli(['cards', 'list'], options);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('Not logged in: run `pnpm giftpay login` first.');

      await logInAsAdmin(options);
      const elsewhere = await closedUrl();
      const other = await runCli(['cards', 'list', '--url', elsewhere], options);
      expect(other.code).toBe(1);
      expect(other.stderr).toContain(`Logged in to ${url}, not ${elsewhere}: run \`pnpm giftpay login --url ${elsewhere}\``);

      const path = join(home, 'giftpay', 'credentials.json');
      const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      writeFileSync(path, JSON.stringify({ ...saved, expiresAt: new Date(Date.now() - 1000).toISOString() }), { mode: 0o600 });
      const expired = await runCli(['cards', 'list'], options);
      expect(expired.code).toBe(1);
      expect(expired.stderr).toMatch(/session of admin expired at .*: run `pnpm giftpay login`/);
    });
  });

  it('rejects a wrong command line with exit 2 and the usage, before asking for a session', async () => {
    // Every rule is in cli.test.ts; here, that the process exits 2 and says so on stderr,
    // although there is no session (which would be exit 1).
    await withConfig(async (options) => {
      const cases: [string[], RegExp][] = [
        [['issue', '--value', '10', '--currency', 'IRR', '--count', '2', '--code', 'SPRING', '--out', 'x.csv'], /--code issues one promotion/],
        [['issue', '--bogus'], /Unknown option '--bogus'/],
        [['cards', 'disable'], /`cards disable` takes ID, got none/],
        [['refund'], /Unknown command `refund`/],
      ];
      for (const [args, message] of cases) {
        const result = await runCli(args, options);
        expect({ args, code: result.code }).toEqual({ args, code: 2 });
        expect(result.stderr).toMatch(/^usage error: /);
        expect(result.stderr).toMatch(message);
      }
    });
  });

  it('prints help for the CLI and for each command with exit 0, also through `pnpm giftpay`', async () => {
    await withConfig(async (options) => {
      const general = await runCli(['--help'], options);
      expect(general.code).toBe(0);
      for (const command of ['login', 'issue', 'cards list', 'cards disable', 'promotion watch']) expect(general.stdout).toContain(command);
      const issueHelp = await runCli(['issue', '--help'], options);
      expect(issueHelp.code).toBe(0);
      expect(issueHelp.stdout).toContain('Usage: pnpm giftpay issue --value AMOUNT --currency CODE');
      const helpWatch = await runCli(['help', 'promotion', 'watch'], options);
      expect(helpWatch.stdout).toContain('Usage: pnpm giftpay promotion watch ID');
      // The root package.json's script, as the README says to run it.
      const viaPnpm = spawnSync('pnpm', ['--silent', 'giftpay', 'help', 'issue'], { cwd: REPOSITORY_ROOT, encoding: 'utf8' });
      expect(viaPnpm.status).toBe(0);
      expect(viaPnpm.stdout).toContain('Usage: pnpm giftpay issue');
    });
  });
});
