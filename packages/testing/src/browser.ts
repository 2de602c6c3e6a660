// Chromium for browser tests: Debian's chromium package driven by playwright-core (Playwright's
// own browser downloads need its CDN). A missing browser fails the test with the command that
// installs it, never a skip. Pages can be kept on loopback only, screenshots are kept under
// artifacts/ at the repository root, and a built web app is served with /graphql proxied to
// a gateway, as its production host would.

import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Listening, listen } from '@giftpay/common';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Where Debian's `apt-get install chromium` puts the browser; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Screenshots and other files a browser test keeps, git-ignored. */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../artifacts/', import.meta.url));

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}; the browser tests need it. Install it with \`apt-get install -y chromium\` ` +
        '(Debian; `npx playwright install` cannot reach its CDN here), or set CHROMIUM_PATH to a Chromium or Chrome executable.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      // Tests run as root in containers, where Chromium's sandbox cannot start.
      '--no-sandbox',
      // No name resolves except localhost: nothing can leave the machine, not even Chromium's own background requests.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

export interface LazyChromium {
  /** The browser, launched on the first call; a missing Chromium fails every test that asks for it. */
  get(): Promise<Browser>;
  close(): Promise<void>;
}

/** One Chromium per test file, launched by the first test that needs it (so each such test fails, never skips, without it). */
export function lazyChromium(): LazyChromium {
  let launched: Promise<Browser> | undefined;
  return {
    get: () => {
      launched ??= launchChromium();
      return launched;
    },
    async close() {
      const browser = await launched?.catch(() => undefined);
      await browser?.close();
    },
  };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface LoopbackOnly {
  /** URLs the page tried to reach beyond loopback (each was aborted). */
  readonly blocked: string[];
  /** Messages of uncaught page errors and console errors, for a failing test to show. */
  readonly pageErrors: string[];
}

/**
 * Aborts every request of the context that is not to a loopback http(s) address, and records
 * it, so a test can assert that a page needed nothing beyond the machine; data: URLs never
 * reach the network and pass.
 */
export async function keepOnLoopback(context: BrowserContext): Promise<LoopbackOnly> {
  const blocked: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname)) {
      await route.continue();
      return;
    }
    if (url.protocol === 'data:' || url.protocol === 'blob:') {
      await route.continue();
      return;
    }
    blocked.push(url.href);
    await route.abort('blockedbyclient');
  });
  context.on('page', (page) => watchErrors(page, pageErrors));
  return { blocked, pageErrors };
}

function watchErrors(page: Page, into: string[]): void {
  page.on('pageerror', (error) => into.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') into.push(message.text());
  });
}

/** Saves a full-page screenshot as artifacts/<name>.png, prints its path and returns it. */
export async function keepScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

/**
 * Serves the built files of a single-page app from `root` on 127.0.0.1, port 0 (any other
 * path gets index.html), and forwards /graphql to `gatewayUrl`: one origin for the page and
 * the API, as in production behind one host.
 */
export async function serveWebApp(root: string, gatewayUrl: string): Promise<Listening> {
  const base = resolve(root);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/graphql') {
      const upstream = new URL(`/graphql${url.search}`, gatewayUrl);
      const forwarded = httpRequest(upstream, { method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forwarded.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(forwarded);
      return;
    }
    const wanted = resolve(base, `.${decodeURIComponent(url.pathname)}`);
    const file = wanted.startsWith(base + sep) && existsSync(wanted) && statSync(wanted).isFile() ? wanted : join(base, 'index.html');
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  return listen(server, 0, '127.0.0.1');
}
