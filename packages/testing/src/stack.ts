// The whole GiftPay stack in-process for end-to-end tests: the three subgraphs and the
// gateway, each on its own port 0, talking HTTP to each other exactly as in production.

import { randomBytes } from 'node:crypto';
import { type AccountsServer, createServer as createAccounts } from '@giftpay/accounts';
import { loadConfig as loadAccountsConfig } from '@giftpay/accounts/config';
import { generateSigningKeyPem } from '@giftpay/accounts/token-signer';
import { type Env, type Listening, listen } from '@giftpay/common';
import { createServer as createGateway, type GatewayServer } from '@giftpay/gateway';
import { loadConfig as loadGatewayConfig } from '@giftpay/gateway/config';
import { createServer as createGiftCards, type GiftCardsServer } from '@giftpay/gift-cards';
import { loadConfig as loadGiftCardsConfig } from '@giftpay/gift-cards/config';
import { createServer as createWallet, type WalletServer } from '@giftpay/wallet';
import { loadConfig as loadWalletConfig } from '@giftpay/wallet/config';
import { type FaultyProxy, startFaultyProxy } from './faulty-proxy.ts';

export const ADMIN_USERNAME = 'admin';
export const ADMIN_PASSWORD = 'admin-password-for-tests';

export interface GraphQLResult<TData = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly data: TData | null | undefined;
  readonly errors: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[] | undefined;
  readonly body: unknown;
}

export interface SignedIn {
  readonly token: string;
  readonly userId: string;
  readonly username: string;
}

export interface Running<T> {
  readonly server: T;
  readonly listening: Listening;
}

export interface Stack {
  readonly env: Env;
  readonly gatewayUrl: string;
  readonly accounts: Running<AccountsServer>;
  readonly wallet: Running<WalletServer>;
  readonly giftCards: Running<GiftCardsServer>;
  readonly gateway: Running<GatewayServer>;
  /** The link gift-cards uses to reach the wallet, when `faultyWalletLink` was asked for. */
  readonly walletLink: FaultyProxy | null;
  graphql<TData = Record<string, unknown>>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResult<TData>>;
  signUp(username?: string): Promise<SignedIn>;
  /** Issues one card (or promotion) as the bootstrap admin, in IRR; returns its code and id. */
  issueGiftCard(input?: { amount?: string; usageLimit?: number; count?: number; expiresAt?: string }): Promise<{ code: string; id: string }>;
  logInAdmin(): Promise<SignedIn>;
  close(): Promise<void>;
}

export interface StackOptions {
  readonly databaseUrl: string;
  /** Extra or overriding environment, e.g. `{ WALLET_CREDIT_TIMEOUT_MS: '200' }`. */
  readonly env?: Env;
  /** Start the gift-cards credit relay on its timer (off by default: tests call relayOnce). */
  readonly startRelay?: boolean;
  /** Put a FaultyProxy between gift-cards and the wallet, as `stack.walletLink`. */
  readonly faultyWalletLink?: boolean;
}

export function testEnv(databaseUrl: string, overrides: Env = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    // A real pool, small: on a 2-core machine more than four connections a service add no
    // throughput, and every connection PostgreSQL opens for a file's stack costs it a backend
    // start. Tests of bursts or pool limits set their own.
    DB_POOL_MAX: '4',
    JWT_PRIVATE_KEY: generateSigningKeyPem('EdDSA'),
    INTERNAL_API_TOKEN: randomBytes(32).toString('base64url'),
    GATEWAY_TOKEN: randomBytes(32).toString('base64url'),
    GIFT_CARD_CODE_KEY: randomBytes(32).toString('base64url'),
    // The cheapest argon2id the config accepts: tests sign up hundreds of users.
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    BOOTSTRAP_ADMIN_USERNAME: ADMIN_USERNAME,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ACCOUNTS_PORT: '0',
    WALLET_PORT: '0',
    GIFT_CARDS_PORT: '0',
    GATEWAY_PORT: '0',
    // No quick credit retries by default: tests of the outbox count delivery attempts and
    // drive the relay themselves; the quick retries have tests of their own.
    CREDIT_RETRY_DELAYS_MS: '',
    ...overrides,
  };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const env: Record<string, string | undefined> = testEnv(options.databaseUrl, options.env);

  const accountsConfig = loadAccountsConfig(env);
  const accountsServer = await createAccounts({ config: accountsConfig });
  const accounts = { server: accountsServer, listening: await listen(accountsServer.server, accountsConfig.port, accountsConfig.host) };
  env.ACCOUNTS_URL = accounts.listening.url;

  const walletConfig = loadWalletConfig(env);
  const walletServer = await createWallet({ config: walletConfig });
  const wallet = { server: walletServer, listening: await listen(walletServer.server, walletConfig.port, walletConfig.host) };
  env.WALLET_URL = wallet.listening.url;
  const walletLink = options.faultyWalletLink ? await startFaultyProxy(wallet.listening.url) : null;

  const giftCardsConfig = loadGiftCardsConfig(walletLink ? { ...env, WALLET_URL: walletLink.url } : env);
  const giftCardsServer = await createGiftCards({ config: giftCardsConfig, startRelay: options.startRelay ?? false });
  const giftCards = { server: giftCardsServer, listening: await listen(giftCardsServer.server, giftCardsConfig.port, giftCardsConfig.host) };
  env.GIFT_CARDS_URL = giftCards.listening.url;

  const gatewayConfig = loadGatewayConfig(env);
  const gatewayServer = await createGateway({ config: gatewayConfig });
  const gateway = { server: gatewayServer, listening: await listen(gatewayServer.server, gatewayConfig.port, gatewayConfig.host) };
  const gatewayUrl = gateway.listening.url;

  const graphql: Stack['graphql'] = async (query, requestOptions = {}) => {
    const response = await fetch(`${gatewayUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(requestOptions.token ? { authorization: `Bearer ${requestOptions.token}` } : {}),
        ...requestOptions.headers,
      },
      body: JSON.stringify({ query, variables: requestOptions.variables ?? {} }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: GraphQLResult['errors'] };
    return { status: response.status, headers: response.headers, data: body.data as never, errors: body.errors, body };
  };

  const authenticate = async (mutation: 'signUp' | 'logIn', username: string, password: string): Promise<SignedIn> => {
    const result = await graphql<{ auth: { token: string; user: { id: string; username: string } } }>(
      `mutation ($input: ${mutation === 'signUp' ? 'SignUpInput' : 'LogInInput'}!) { auth: ${mutation}(input: $input) { token user { id username } } }`,
      { variables: { input: { username, password } } },
    );
    if (!result.data?.auth) throw new Error(`${mutation} failed: ${JSON.stringify(result.errors)}`);
    return { token: result.data.auth.token, userId: result.data.auth.user.id, username: result.data.auth.user.username };
  };

  let adminToken: Promise<SignedIn> | null = null;
  const issueGiftCard: Stack['issueGiftCard'] = async ({ amount = '1000', ...rest } = {}) => {
    adminToken ??= authenticate('logIn', ADMIN_USERNAME, ADMIN_PASSWORD);
    const result = await graphql<{ issueGiftCards: { giftCards: { code: string; giftCard: { id: string } }[] } }>(
      'mutation ($input: IssueGiftCardsInput!) { issueGiftCards(input: $input) { giftCards { code giftCard { id } } } }',
      { token: (await adminToken).token, variables: { input: { value: { amount, currencyCode: 'IRR' }, ...rest } } },
    );
    const issued = result.data?.issueGiftCards.giftCards[0];
    if (!issued || result.errors) throw new Error(`issueGiftCards failed: ${JSON.stringify(result.errors)}`);
    return { code: issued.code, id: issued.giftCard.id };
  };

  return {
    env,
    gatewayUrl,
    issueGiftCard,
    accounts,
    wallet,
    giftCards,
    gateway,
    walletLink,
    graphql,
    signUp: (username = `user_${randomBytes(5).toString('hex')}`) => authenticate('signUp', username, 'a-long-enough-password'),
    logInAdmin: () => authenticate('logIn', ADMIN_USERNAME, ADMIN_PASSWORD),
    async close() {
      for (const running of [gateway, giftCards, wallet, accounts] as Running<{ close(): Promise<void> }>[]) {
        await running.listening.close();
        await running.server.close();
      }
      await walletLink?.close();
    },
  };
}
