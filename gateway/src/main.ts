// Starts the gateway.

import { listen, runService, startTracing } from '@giftpay/common';
import { loadConfig } from './config.ts';
import { createServer } from './server.ts';

await runService('gateway', async () => {
  const config = loadConfig(process.env);
  const tracing = await startTracing({ service: 'gateway', endpoint: config.otlpEndpoint });
  const gateway = await createServer({ config });
  const listening = await listen(gateway.server, config.port, config.host);
  return { logger: gateway.logger, listening, tracing, close: () => gateway.close() };
});
