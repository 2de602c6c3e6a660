// Starts the gift-cards subgraph: config, migrations, then listen (and the credit relay).

import { listen, runService, startTracing } from '@giftpay/common';
import { loadConfig } from './config.ts';
import { migrateGiftCards } from './db/migrate.ts';
import { createServer } from './server.ts';

await runService('gift-cards', async () => {
  const config = loadConfig(process.env);
  const tracing = await startTracing({ service: 'gift-cards', endpoint: config.otlpEndpoint });
  await migrateGiftCards(config.databaseUrl);
  const server = await createServer({ config });
  const listening = await listen(server.server, config.port, config.host);
  return { logger: server.logger, listening, tracing, close: () => server.close() };
});
