// `pnpm bench:gateway`: what the gateway adds to a simple query, with its operation limits on
// and off. The same signed-in `{ me { id username } }` is sent one at a time (latency, not
// throughput) straight to the accounts subgraph, and through two gateways over the same
// subgraphs, one with the limits and one without, interleaved so that all three see the same
// machine. Settings: BENCH_REQUESTS (2000 per path).

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCOUNTS_MIGRATIONS } from '@giftpay/accounts/migrate';
import { listen } from '@giftpay/common';
import { applyMigrations } from '@giftpay/common/db';
import { freePort, startEmbeddedPostgres } from '@giftpay/embedded-db';
import { createServer as createGateway } from '@giftpay/gateway';
import { loadConfig as loadGatewayConfig } from '@giftpay/gateway/config';
import { GIFT_CARDS_MIGRATIONS } from '@giftpay/gift-cards/migrate';
import { startStack } from '@giftpay/testing/stack';
import { WALLET_MIGRATIONS } from '@giftpay/wallet/migrate';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const QUERY = JSON.stringify({ query: '{ me { id username } }' });

const dir = await mkdtemp(join(tmpdir(), 'giftpay-gateway-bench-'));
await chmod(dir, 0o755);
const server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await freePort(), persistent: false });
await server.ensureDatabase('bench');
for (const migrations of [ACCOUNTS_MIGRATIONS, WALLET_MIGRATIONS, GIFT_CARDS_MIGRATIONS]) await applyMigrations(server.urlFor('bench'), migrations);
const stack = await startStack({ databaseUrl: server.urlFor('bench'), env: { LOG_LEVEL: 'warn' } });
const unlimited = await createGateway({ config: loadGatewayConfig({ ...stack.env, LIMITS_ENABLED: 'false', GATEWAY_PORT: '0' }) });
const unlimitedListening = await listen(unlimited.server, 0, '127.0.0.1');
const user = await stack.signUp();

const paths = {
  'accounts subgraph, direct': `${stack.accounts.listening.url}/graphql`,
  'gateway, limits on': `${stack.gatewayUrl}/graphql`,
  'gateway, limits off': `${unlimitedListening.url}/graphql`,
};
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map((name) => [name, []]));

async function once(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` }, body: QUERY });
  const body = (await response.json()) as { data?: { me?: { id: string } } };
  if (body.data?.me?.id !== user.userId) throw new Error(`unexpected answer from ${url}: ${JSON.stringify(body)}`);
  return performance.now() - started;
}

try {
  for (let warm = 0; warm < 200; warm += 1) for (const url of Object.values(paths)) await once(url);
  for (let i = 0; i < REQUESTS; i += 1) for (const [name, url] of Object.entries(paths)) samples[name]?.push(await once(url));
  const percentile = (values: number[], p: number) =>
    [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)] ?? 0;
  const rows = Object.entries(samples).map(([name, values]) => ({
    path: name,
    requests: values.length,
    p50Ms: Number(percentile(values, 50).toFixed(2)),
    p90Ms: Number(percentile(values, 90).toFixed(2)),
    p99Ms: Number(percentile(values, 99).toFixed(2)),
    meanMs: Number((values.reduce((sum, value) => sum + value, 0) / values.length).toFixed(2)),
  }));
  console.log(`{ me { id username } }, signed in, one request at a time, ${REQUESTS} per path`);
  console.table(rows);
  const direct = rows[0]?.p50Ms ?? 0;
  console.log(`gateway adds (p50): ${((rows[1]?.p50Ms ?? 0) - direct).toFixed(2)} ms with limits, ${((rows[2]?.p50Ms ?? 0) - direct).toFixed(2)} ms without`);
} finally {
  await unlimitedListening.close();
  await unlimited.close();
  await stack.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
