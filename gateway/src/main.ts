// Starts the gateway.

import { listen, runService } from '@giftpay/common';
import { loadConfig } from './config.ts';
import { createServer } from './server.ts';

await runService('gateway', async () => {
  const config = loadConfig(process.env);
  const gateway = await createServer({ config });
  const listening = await listen(gateway.server, config.port, config.host);
  return { logger: gateway.logger, listening, close: () => gateway.close() };
});
