// Starts the accounts subgraph: config, migrations, then listen.

import { listen, runService, startTracing } from '@giftpay/common';
import { loadConfig } from './config.ts';
import { migrateAccounts } from './db/migrate.ts';
import { createServer } from './server.ts';

await runService('accounts', async () => {
  const config = loadConfig(process.env);
  const tracing = await startTracing({ service: 'accounts', endpoint: config.otlpEndpoint });
  await migrateAccounts(config.databaseUrl);
  const server = await createServer({ config });
  const listening = await listen(server.server, config.port, config.host);
  return { logger: server.logger, listening, tracing, close: () => server.close() };
});
