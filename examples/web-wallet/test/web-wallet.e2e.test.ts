// The example web wallet, built with Vite and driven in Chromium against the real stack: its
// built files served with /graphql proxied to the stack's gateway, as a production host would.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Listening } from '@giftpay/common';
import {
  ADMIN_PASSWORD,
  ADMIN_USERNAME,
  activateGiftCard,
  createTestDatabase,
  keepOnLoopback,
  keepScreenshot,
  lazyChromium,
  type Stack,
  serveWebApp,
  startStack,
} from '@giftpay/testing';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const WALLET_DIR = fileURLToPath(new URL('..', import.meta.url));
/** The password the stack's signUp gives every user. */
const USER_PASSWORD = 'a-long-enough-password';

let stack: Stack;
const chromium = lazyChromium();
let site: Listening;
let buildDir: string;

beforeAll(async () => {
  buildDir = mkdtempSync(join(tmpdir(), 'giftpay-web-wallet-'));
  // The same build as `pnpm --filter @giftpay/web-wallet build`, into a folder of this run's own.
  const build = promisify(execFile)(process.execPath, [join(WALLET_DIR, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', buildDir, '--emptyOutDir'], {
    cwd: WALLET_DIR,
  });
  const database = await createTestDatabase();
  [stack] = await Promise.all([startStack({ databaseUrl: database.url }), build]);
  site = await serveWebApp(buildDir, stack.gatewayUrl);
}, 180_000);

afterAll(async () => {
  await site?.close();
  await chromium.close();
  await stack?.close();
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

/** A fresh browser context (its own sessionStorage) that reaches nothing beyond loopback. */
async function withPage(use: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await (await chromium.get()).newContext({ viewport: { width: 1000, height: 800 } });
  try {
    const network = await keepOnLoopback(context);
    // Generous for a loaded machine; a failure still shows what the page had.
    context.setDefaultTimeout(60_000);
    await use(await context.newPage(), context);
    expect(network.blocked).toEqual([]);
    expect(network.pageErrors).toEqual([]);
  } finally {
    await context.close();
  }
}

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto(site.url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await expect.poll(() => page.getByTestId('username').textContent(), { timeout: 60_000 }).toBe(username);
}

describe('the example web wallet', () => {
  it('logs a user in, activates a gift card and shows the new balance at once', { timeout: 240_000 }, async () => {
    const user = await stack.signUp();
    const card = await stack.issueGiftCard({ amount: '1250000' });
    await withPage(async (page) => {
      await logIn(page, user.username, USER_PASSWORD);
      await expect.poll(() => page.getByTestId('balance').textContent(), { timeout: 60_000 }).toBe('0 IRR');

      await page.getByLabel('Code').fill(card.code);
      await page.getByRole('button', { name: 'Activate' }).click();
      await expect.poll(() => page.getByTestId('balance').textContent(), { timeout: 60_000 }).toBe('1,250,000 IRR');
      await expect.poll(() => page.getByRole('status').textContent(), { timeout: 60_000 }).toBe('1,250,000 IRR added to your wallet.');
      await expect.poll(() => page.getByTestId('transactions').textContent(), { timeout: 60_000 }).toContain('+1,250,000 IRR');
      await keepScreenshot(page, 'web-wallet-activation');
    });
    // The page showed what the wallet holds.
    const balance = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
    expect(balance.data?.me.wallet.balance.amount).toBe('1250000');
  });

  it('spends and transfers, each submission once, and shows the balance after each', { timeout: 240_000 }, async () => {
    const [user, friend] = await Promise.all([stack.signUp(), stack.signUp()]);
    const card = await stack.issueGiftCard({ amount: '1000' });
    expect((await activateGiftCard(stack, user, card.code)).errors).toBeUndefined();
    await withPage(async (page) => {
      await logIn(page, user.username, USER_PASSWORD);
      await expect.poll(() => page.getByTestId('balance').textContent(), { timeout: 60_000 }).toBe('1,000 IRR');

      const spend = page.locator('section', { has: page.getByRole('heading', { name: 'Spend' }) });
      await spend.getByLabel(/Amount/).fill('300');
      await spend.getByLabel('Description').fill('Coffee beans');
      await spend.getByRole('button', { name: 'Spend' }).click();
      await expect.poll(() => page.getByTestId('balance').textContent(), { timeout: 60_000 }).toBe('700 IRR');

      const transfer = page.locator('section', { has: page.getByRole('heading', { name: 'Transfer' }) });
      await transfer.getByLabel('To (username)').fill(friend.username);
      await transfer.getByLabel(/Amount/).fill('200');
      await transfer.getByRole('button', { name: 'Transfer' }).click();
      await expect.poll(() => page.getByTestId('balance').textContent(), { timeout: 60_000 }).toBe('500 IRR');
      await expect.poll(() => transfer.getByRole('status').textContent(), { timeout: 60_000 }).toBe(`Sent 200 IRR to ${friend.username}.`);
    });
    const balances = await Promise.all(
      [user, friend].map((each) =>
        stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: each.token }),
      ),
    );
    expect(balances.map((each) => each.data?.me.wallet.balance.amount)).toEqual(['500', '200']);
  });

  it('lets an admin issue a promotion and watch its redemptions fill up live, with who redeemed', { timeout: 240_000 }, async () => {
    await withPage(async (page) => {
      await logIn(page, ADMIN_USERNAME, ADMIN_PASSWORD);
      const promotion = page.getByRole('form', { name: 'Issue a promotion' });
      await promotion.getByLabel(/Value per user/).fill('5000');
      await promotion.getByLabel('Users').fill('3');
      await promotion.getByRole('button', { name: 'Issue promotion' }).click();
      const code = await page.getByTestId('issued-codes').locator('code').first().textContent({ timeout: 60_000 });
      // No code chosen: a random one, 20 characters of Crockford's base 32 in groups of five.
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/);
      await expect.poll(() => page.getByTestId('redemptions').textContent(), { timeout: 60_000 }).toBe('0 / 3 redeemed (ACTIVE)');

      const users = await Promise.all([stack.signUp(), stack.signUp(), stack.signUp()]);
      for (const [index, user] of users.entries()) {
        expect((await activateGiftCard(stack, user, String(code))).errors).toBeUndefined();
        const expected = index === users.length - 1 ? '3 / 3 redeemed (USED_UP)' : `${index + 1} / 3 redeemed (ACTIVE)`;
        // No reload: the page polls the promotion's count.
        await expect.poll(() => page.getByTestId('redemptions').textContent(), { timeout: 60_000 }).toBe(expected);
      }
      // Who redeemed, newest first, each once.
      const redeemers = page.getByTestId('redeemers');
      await expect
        .poll(() => redeemers.locator('tbody tr td:first-child').allTextContents(), { timeout: 60_000 })
        .toEqual(users.map((user) => user.username).reverse());
      expect(await redeemers.locator('caption').textContent()).toBe('Latest 3 of 3');
      expect(await redeemers.locator('tbody tr td:nth-child(3)').allTextContents()).toEqual(['CREDITED', 'CREDITED', 'CREDITED']);
      await keepScreenshot(page, 'web-wallet-promotion');
    });
  });
});
