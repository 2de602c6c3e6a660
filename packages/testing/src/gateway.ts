// Another gateway beside a running stack, on port 0, with its own settings and its own caches
// (a cold key set, a different deadline, a proxy in front of a subgraph): for tests that must
// not share the stack's gateway state.

import { type Env, listen } from '@giftpay/common';
import { createServer as createGateway, type GatewayServer } from '@giftpay/gateway';
import { loadConfig as loadGatewayConfig } from '@giftpay/gateway/config';

export interface ExtraGateway {
  readonly server: GatewayServer;
  /** Base URL; GraphQL is at `${url}/graphql`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a gateway from `env` (a stack's env plus overrides); its port is always 0. */
export async function startGateway(env: Env): Promise<ExtraGateway> {
  const server = await createGateway({ config: loadGatewayConfig({ ...env, GATEWAY_PORT: '0' }) });
  const listening = await listen(server.server, 0, '127.0.0.1');
  return {
    server,
    url: listening.url,
    async close() {
      await listening.close();
      await server.close();
    },
  };
}
