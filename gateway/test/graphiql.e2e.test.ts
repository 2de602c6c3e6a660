// GraphiQL at /graphiql: an IDE served by the gateway from the npm packages, working in a
// browser that can reach nothing beyond loopback; on by default except in production.

import { createTestDatabase, keepOnLoopback, keepScreenshot, lazyChromium, type Stack, startGateway, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
const chromium = lazyChromium();

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url, env: { NODE_ENV: 'development' } });
});

afterAll(async () => {
  await chromium.close();
  await stack?.close();
});

/** Replaces the text of the GraphiQL editor (CodeMirror 5) under `selector`. */
async function setEditor(page: import('playwright-core').Page, selector: string, text: string): Promise<void> {
  await page.locator(`${selector} .CodeMirror`).first().waitFor();
  await page.evaluate(
    ({ selector, text }) => {
      const element = document.querySelector(`${selector} .CodeMirror`) as (Element & { CodeMirror?: { setValue(value: string): void } }) | null;
      if (!element?.CodeMirror) throw new Error(`no editor at ${selector}`);
      element.CodeMirror.setValue(text);
    },
    { selector, text },
  );
}

describe('GraphiQL at /graphiql', () => {
  it('runs a query with the Authorization header from its Headers tab in a browser that can reach nothing beyond loopback', async () => {
    const user = await stack.signUp();
    const context = await (await chromium.get()).newContext();
    try {
      const network = await keepOnLoopback(context);
      // A loaded machine renders 3.5 MB of GraphiQL slowly.
      context.setDefaultTimeout(60_000);
      const page = await context.newPage();
      const response = await page.goto(`${stack.gatewayUrl}/graphiql`);
      expect(response?.status()).toBe(200);
      await page
        .locator('.graphiql-container')
        .waitFor()
        .catch((error: unknown) => {
          throw new Error(`GraphiQL did not render; blocked requests: ${JSON.stringify(network.blocked)}; page errors: ${JSON.stringify(network.pageErrors)}`, {
            cause: error,
          });
        });

      await setEditor(page, '.graphiql-query-editor', 'query WhoAmI { me { username roles } }');
      // The Headers tab is open from the start (the page asks for it), as the docs describe.
      await page.getByRole('button', { name: /^headers$/i }).click();
      await setEditor(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)', JSON.stringify({ Authorization: `Bearer ${user.token}` }));
      await page.locator('.graphiql-execute-button').click();

      const result = page.locator('.graphiql-response');
      await expect.poll(async () => result.textContent(), { timeout: 60_000 }).toContain(`"username": "${user.username}"`);
      await keepScreenshot(page, 'graphiql');

      expect(network.blocked).toEqual([]);
      expect(network.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('serves the page and its files with a policy that allows the gateway’s own origin only', async () => {
    const page = await fetch(`${stack.gatewayUrl}/graphiql`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((match) => match[1]);
    expect(scripts).toEqual(['/graphiql/react.js', '/graphiql/react-dom.js', '/graphiql/graphiql.js', '/graphiql/start.js']);
    for (const path of [...scripts, '/graphiql/graphiql.css']) {
      const file = await fetch(`${stack.gatewayUrl}${path}`);
      expect(file.status, path).toBe(200);
      expect((await file.arrayBuffer()).byteLength, path).toBeGreaterThan(0);
    }
  });

  it('is off in production unless GRAPHIQL_ENABLED=true, and then answers 404', async () => {
    const production = await startGateway({ ...stack.env, NODE_ENV: 'production' });
    const enabled = await startGateway({ ...stack.env, NODE_ENV: 'production', GRAPHIQL_ENABLED: 'true' });
    try {
      expect((await fetch(`${production.url}/graphiql`)).status).toBe(404);
      expect((await fetch(`${production.url}/graphiql/graphiql.js`)).status).toBe(404);
      expect((await fetch(`${enabled.url}/graphiql`)).status).toBe(200);
    } finally {
      await production.close();
      await enabled.close();
    }
  });
});
