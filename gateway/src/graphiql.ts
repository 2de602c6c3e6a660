// GraphiQL at GET /graphiql: an IDE that works offline. Apollo Sandbox (the landing page at
// /graphql) loads from Apollo's CDN; this page loads only files from the installed npm
// packages (graphiql's own browser bundle and React's UMD builds), served by the gateway
// itself, and a Content-Security-Policy keeps the browser from fetching anything elsewhere.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const GRAPHIQL_PATH = '/graphiql';

const require = createRequire(import.meta.url);

/** The same origin only; GraphiQL sets inline styles and embeds its fonts as data: URLs. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>GiftPay GraphiQL</title>
    <link rel="stylesheet" href="${GRAPHIQL_PATH}/graphiql.css" />
    <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="${GRAPHIQL_PATH}/react.js"></script>
    <script src="${GRAPHIQL_PATH}/react-dom.js"></script>
    <script src="${GRAPHIQL_PATH}/graphiql.js"></script>
    <script src="${GRAPHIQL_PATH}/start.js"></script>
  </body>
</html>
`;

// A separate file rather than an inline script, so the policy can forbid inline scripts.
// Headers typed in the Headers tab (e.g. {"Authorization": "Bearer <token>"}) go with every
// request; they are not persisted unless the user says so in GraphiQL's settings.
const START = `'use strict';
const fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', window.location.href).href });
const defaultQuery = '# GiftPay GraphiQL. Log in with the logIn mutation, then put the token in the Headers tab:\\n# {"Authorization": "Bearer <token>"}\\n\\nquery Me {\\n  me {\\n    username\\n    wallet { balance { amount currencyCode } }\\n  }\\n}\\n';
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher, defaultQuery, defaultEditorToolsVisibility: 'headers' }),
);
`;

interface Asset {
  readonly contentType: string;
  readonly load: () => Buffer;
}

const JAVASCRIPT = 'text/javascript; charset=utf-8';

/** A file of an installed package, found through its package.json (their `exports` do not list these files). */
function packageFile(name: string, file: string): () => Buffer {
  const path = join(dirname(require.resolve(`${name}/package.json`)), file);
  return () => readFileSync(path);
}

/** The page and its files; package paths are resolved when the gateway starts, so a missing package stops it there. */
function assets(): ReadonlyMap<string, Asset> {
  return new Map([
    [GRAPHIQL_PATH, { contentType: 'text/html; charset=utf-8', load: () => Buffer.from(PAGE) }],
    [`${GRAPHIQL_PATH}/start.js`, { contentType: JAVASCRIPT, load: () => Buffer.from(START) }],
    [`${GRAPHIQL_PATH}/react.js`, { contentType: JAVASCRIPT, load: packageFile('react', 'umd/react.production.min.js') }],
    [`${GRAPHIQL_PATH}/react-dom.js`, { contentType: JAVASCRIPT, load: packageFile('react-dom', 'umd/react-dom.production.min.js') }],
    [`${GRAPHIQL_PATH}/graphiql.js`, { contentType: JAVASCRIPT, load: packageFile('graphiql', 'graphiql.min.js') }],
    [`${GRAPHIQL_PATH}/graphiql.css`, { contentType: 'text/css; charset=utf-8', load: packageFile('graphiql', 'graphiql.min.css') }],
  ]);
}

/**
 * The handler of GET and HEAD requests for the page and its files: answers them and returns
 * true, or returns false for any other request. Each file is read and compressed once, on its
 * first request (graphiql.js is 3.5 MB, 1 MB gzipped).
 */
export function graphiqlHandler(): (req: IncomingMessage, res: ServerResponse) => boolean {
  const files = assets();
  const loaded = new Map<string, { plain: Buffer; gzipped: Buffer }>();
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const asset = files.get(path);
    if (!asset) return false;
    let content = loaded.get(path);
    if (!content) {
      const plain = asset.load();
      content = { plain, gzipped: gzipSync(plain) };
      loaded.set(path, content);
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? content.gzipped : content.plain;
    res.writeHead(200, {
      'content-type': asset.contentType,
      'content-length': body.length,
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      vary: 'Accept-Encoding',
      'cache-control': path === GRAPHIQL_PATH ? 'no-cache' : 'public, max-age=3600',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
