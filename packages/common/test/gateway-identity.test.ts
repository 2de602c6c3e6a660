// The caller the gateway verified, passed to a subgraph next to GATEWAY_TOKEN: a subgraph
// believes it (and checks no signature) only with the right credential, verifies the bearer
// token otherwise, and believes the client-address header only from the gateway. The setting
// itself: at least 32 characters, from a file too, generated once per DATA_DIR outside
// production, absent in production when unset.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configErrorOf } from '@giftpay/testing/outcome';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal, TokenVerifier } from '../src/auth.ts';
import { UnauthenticatedError } from '../src/errors.ts';
import {
  cameThroughGateway,
  decodePrincipal,
  encodePrincipal,
  GATEWAY_TOKEN_FILE,
  GATEWAY_TOKEN_HEADER,
  gatewayTokenSetting,
  PRINCIPAL_HEADER,
  previousGatewayTokenSetting,
} from '../src/gateway-identity.ts';
import { type Listening, listen } from '../src/http.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { withSecretFiles } from '../src/secret-files.ts';
import { CLIENT_ADDRESS_HEADER } from '../src/service-client.ts';
import { createSubgraphApp, type SubgraphApp } from '../src/subgraph.ts';

const GATEWAY_TOKEN = 'g'.repeat(40);
const PREVIOUS_TOKEN = 'p'.repeat(40);
const ALICE: Principal = { userId: 'alice-id', username: 'alice', roles: ['user'] };
const BOB: Principal = { userId: 'bob-id', username: 'bob', roles: ['user', 'admin'] };

describe('the forwarded caller header', () => {
  it('reads back what the gateway wrote, roles included', () => {
    expect(decodePrincipal(encodePrincipal(BOB))).toEqual(BOB);
    expect(decodePrincipal(encodePrincipal({ userId: 'u', username: 'ünïcode name', roles: [] }))).toEqual({
      userId: 'u',
      username: 'ünïcode name',
      roles: [],
    });
  });

  it('is no caller when absent', () => {
    expect(decodePrincipal(undefined)).toBeNull();
  });

  it('keeps only the roles the API knows', () => {
    const header = Buffer.from(JSON.stringify({ sub: 'u', name: 'n', roles: ['user', 'root', 7] })).toString('base64url');
    expect(decodePrincipal(header)?.roles).toEqual(['user']);
  });

  it.each([
    ['not base64 JSON', '%%%'],
    ['no subject', Buffer.from(JSON.stringify({ name: 'n', roles: [] })).toString('base64url')],
    ['an empty subject', Buffer.from(JSON.stringify({ sub: '', name: 'n', roles: [] })).toString('base64url')],
    ['roles not a list', Buffer.from(JSON.stringify({ sub: 'u', name: 'n', roles: 'admin' })).toString('base64url')],
    ['JSON null', Buffer.from('null').toString('base64url')],
  ])('is UNAUTHENTICATED when it holds %s', (_, header) => {
    expect(() => decodePrincipal(header)).toThrow(UnauthenticatedError);
  });

  it('is UNAUTHENTICATED when repeated', () => {
    expect(() => decodePrincipal([encodePrincipal(ALICE), encodePrincipal(BOB)])).toThrow(UnauthenticatedError);
  });
});

describe('cameThroughGateway', () => {
  it('is true only for the exact credential, and never for a subgraph that holds none', () => {
    expect(cameThroughGateway(GATEWAY_TOKEN, GATEWAY_TOKEN)).toBe(true);
    expect(cameThroughGateway(`${GATEWAY_TOKEN}x`, GATEWAY_TOKEN)).toBe(false);
    expect(cameThroughGateway(GATEWAY_TOKEN.slice(1), GATEWAY_TOKEN)).toBe(false);
    expect(cameThroughGateway(undefined, GATEWAY_TOKEN)).toBe(false);
    expect(cameThroughGateway('', GATEWAY_TOKEN)).toBe(false);
    expect(cameThroughGateway([GATEWAY_TOKEN, GATEWAY_TOKEN], GATEWAY_TOKEN)).toBe(false);
    expect(cameThroughGateway(GATEWAY_TOKEN, null)).toBe(false);
  });
});

describe('GATEWAY_TOKEN', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'giftpay-gateway-token-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is taken as given when at least 32 characters long', () => {
    expect(gatewayTokenSetting({ GATEWAY_TOKEN }, { mode: 'production', dataDir })).toBe(GATEWAY_TOKEN);
  });

  it('refuses a shorter one, naming the variable', () => {
    expect(configErrorOf(() => gatewayTokenSetting({ GATEWAY_TOKEN: 'short' }, { mode: 'development', dataDir })).variable).toBe('GATEWAY_TOKEN');
  });

  it('is read from GATEWAY_TOKEN_FILE like every secret', () => {
    const file = join(dataDir, 'mounted-gateway-token');
    writeFileSync(file, `${GATEWAY_TOKEN}\n`);
    expect(gatewayTokenSetting(withSecretFiles({ GATEWAY_TOKEN_FILE: file }, []), { mode: 'production', dataDir })).toBe(GATEWAY_TOKEN);
  });

  it('is absent in production when unset (every subgraph then verifies tokens itself), and writes no file', () => {
    const productionDir = join(dataDir, 'production');
    expect(gatewayTokenSetting({}, { mode: 'production', dataDir: productionDir })).toBeNull();
    expect(() => readFileSync(join(productionDir, 'secrets', GATEWAY_TOKEN_FILE))).toThrow();
  });

  it('has a previous value only during a rotation: GATEWAY_TOKEN_PREVIOUS, 32 characters or more, beside a GATEWAY_TOKEN, from a file too', () => {
    expect(previousGatewayTokenSetting({}, GATEWAY_TOKEN)).toBeNull();
    expect(previousGatewayTokenSetting({ GATEWAY_TOKEN_PREVIOUS: PREVIOUS_TOKEN }, GATEWAY_TOKEN)).toBe(PREVIOUS_TOKEN);
    expect(configErrorOf(() => previousGatewayTokenSetting({ GATEWAY_TOKEN_PREVIOUS: 'short' }, GATEWAY_TOKEN)).variable).toBe('GATEWAY_TOKEN_PREVIOUS');
    expect(configErrorOf(() => previousGatewayTokenSetting({ GATEWAY_TOKEN_PREVIOUS: PREVIOUS_TOKEN }, null)).message).toContain(
      'only read beside a GATEWAY_TOKEN',
    );
    const file = join(dataDir, 'mounted-previous-gateway-token');
    writeFileSync(file, `${PREVIOUS_TOKEN}\n`);
    expect(previousGatewayTokenSetting(withSecretFiles({ GATEWAY_TOKEN_PREVIOUS_FILE: file }, []), GATEWAY_TOKEN)).toBe(PREVIOUS_TOKEN);
  });

  it('outside production is generated once under DATA_DIR and shared by every service reading it', () => {
    const first = gatewayTokenSetting({}, { mode: 'development', dataDir });
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(gatewayTokenSetting({}, { mode: 'test', dataDir })).toBe(first);
    expect(readFileSync(join(dataDir, 'secrets', GATEWAY_TOKEN_FILE), 'utf8')).toBe(first);
  });
});

describe('a subgraph', () => {
  // A real subgraph app over HTTP, whose verifier knows two tokens and counts its checks.
  const tokens = new Map([
    ['alice-token', ALICE],
    ['bob-token', BOB],
  ]);
  let checks = 0;
  let keysHeld = true;
  const verifier: TokenVerifier = {
    ready: async () => keysHeld,
    async verify(token) {
      checks += 1;
      const principal = tokens.get(token);
      if (!principal) throw new UnauthenticatedError('The token signature is invalid.');
      return principal;
    },
  };
  const apps: { app: SubgraphApp; listening: Listening }[] = [];
  let withCredential: string;
  let withoutCredential: string;
  let rotating: string;

  async function start(gatewayToken: string | null, previousGatewayToken: string | null = null): Promise<string> {
    const app = await createSubgraphApp({
      previousGatewayToken,
      name: 'identity-test',
      typeDefs: parse(`
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
        type Query { caller: String, address: String }
      `),
      resolvers: {
        Query: {
          caller: (_: unknown, __: unknown, context: { principal: Principal | null }) =>
            context.principal ? `${context.principal.userId}:${context.principal.roles.join('+')}` : null,
          address: (_: unknown, __: unknown, context: { clientAddress: string | null }) => context.clientAddress,
        },
      },
      verifier,
      gatewayToken,
      logger: createLogger('identity-test', 'silent'),
      mode: 'test',
      ready: async () => true,
      metrics: createMetrics('identity-test'),
    });
    const listening = await listen(app.server, 0, '127.0.0.1');
    apps.push({ app, listening });
    return `${listening.url}/graphql`;
  }

  beforeAll(async () => {
    withCredential = await start(GATEWAY_TOKEN);
    withoutCredential = await start(null);
    rotating = await start(GATEWAY_TOKEN, PREVIOUS_TOKEN);
  });
  afterAll(async () => {
    for (const { app, listening } of apps) {
      await listening.close();
      await app.stop();
    }
  });

  async function ask(url: string, headers: Record<string, string>): Promise<{ caller?: string | null; address?: string | null; code?: unknown }> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: '{ caller address }' }),
    });
    const body = (await response.json()) as { data?: { caller: string | null; address: string | null } | null; errors?: { extensions?: { code?: unknown } }[] };
    return { ...(body.data ?? {}), code: body.errors?.[0]?.extensions?.code };
  }
  const fromGateway = (principal?: Principal) => ({
    [GATEWAY_TOKEN_HEADER]: GATEWAY_TOKEN,
    ...(principal ? { [PRINCIPAL_HEADER]: encodePrincipal(principal) } : {}),
  });

  it("takes the gateway's caller without checking a signature", async () => {
    checks = 0;
    expect(await ask(withCredential, { ...fromGateway(BOB), authorization: 'Bearer bob-token' })).toMatchObject({ caller: 'bob-id:user+admin' });
    expect(await ask(withCredential, fromGateway(ALICE))).toMatchObject({ caller: 'alice-id:user' });
    expect(checks).toBe(0);
  });

  it('answers an anonymous request from the gateway as anonymous', async () => {
    expect(await ask(withCredential, fromGateway())).toMatchObject({ caller: null, code: undefined });
  });

  it('does not believe a caller header without the credential, and verifies the token instead', async () => {
    checks = 0;
    expect(await ask(withCredential, { [PRINCIPAL_HEADER]: encodePrincipal(BOB), authorization: 'Bearer alice-token' })).toMatchObject({
      caller: 'alice-id:user',
    });
    expect(await ask(withCredential, { [PRINCIPAL_HEADER]: encodePrincipal(BOB) })).toMatchObject({ caller: null });
    expect(checks).toBe(1);
  });

  it('treats a wrong credential as no credential', async () => {
    const forged = { [GATEWAY_TOKEN_HEADER]: `${GATEWAY_TOKEN.slice(0, -1)}h`, [PRINCIPAL_HEADER]: encodePrincipal(BOB) };
    expect(await ask(withCredential, { ...forged, authorization: 'Bearer alice-token' })).toMatchObject({ caller: 'alice-id:user' });
    expect(await ask(withCredential, forged)).toMatchObject({ caller: null });
    expect(await ask(withCredential, { ...forged, authorization: 'Bearer forged-token' })).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('answers UNAUTHENTICATED to an unreadable caller header next to the credential', async () => {
    expect(await ask(withCredential, { [GATEWAY_TOKEN_HEADER]: GATEWAY_TOKEN, [PRINCIPAL_HEADER]: 'e30', authorization: 'Bearer bob-token' })).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('holding no credential, believes no caller header, even next to a credential', async () => {
    checks = 0;
    expect(await ask(withoutCredential, { ...fromGateway(BOB), authorization: 'Bearer alice-token' })).toMatchObject({ caller: 'alice-id:user' });
    expect(await ask(withoutCredential, fromGateway(BOB))).toMatchObject({ caller: null });
    expect(checks).toBe(1);
  });

  it('believes the client address header only from the gateway, when it holds a credential', async () => {
    const forgedAddress = { [CLIENT_ADDRESS_HEADER]: '10.9.8.7' };
    expect(await ask(withCredential, { ...fromGateway(ALICE), ...forgedAddress })).toMatchObject({ address: '10.9.8.7' });
    expect(await ask(withCredential, { ...forgedAddress, authorization: 'Bearer alice-token' })).toMatchObject({ address: '127.0.0.1' });
    // A subgraph with no way to tell the gateway apart keeps believing it, as before GATEWAY_TOKEN.
    expect(await ask(withoutCredential, { ...forgedAddress, authorization: 'Bearer alice-token' })).toMatchObject({ address: '10.9.8.7' });
  });

  it('holding no credential, is not ready (GET /health 503) until it can check tokens itself; holding one, its signing keys do not hold it back', async () => {
    const health = async (graphqlUrl: string) => (await fetch(graphqlUrl.replace(/\/graphql$/, '/health'))).status;
    keysHeld = false;
    try {
      expect(await health(withoutCredential)).toBe(503);
      expect(await health(withCredential)).toBe(200);
      keysHeld = true;
      expect(await health(withoutCredential)).toBe(200);
    } finally {
      keysHeld = true;
    }
  });

  it('during a rotation believes the previous credential beside its own, caller and client address alike, and no other', async () => {
    checks = 0;
    const forgedAddress = { [CLIENT_ADDRESS_HEADER]: '10.9.8.7' };
    expect(await ask(rotating, { ...fromGateway(ALICE), ...forgedAddress })).toMatchObject({ caller: 'alice-id:user', address: '10.9.8.7' });
    const fromOldGateway = { [GATEWAY_TOKEN_HEADER]: PREVIOUS_TOKEN, [PRINCIPAL_HEADER]: encodePrincipal(BOB), ...forgedAddress };
    expect(await ask(rotating, fromOldGateway)).toMatchObject({ caller: 'bob-id:user+admin', address: '10.9.8.7' });
    expect(checks).toBe(0);
    // Only the subgraph told of the rotation believes the old value.
    expect(await ask(withCredential, { ...fromOldGateway, authorization: 'Bearer alice-token' })).toMatchObject({
      caller: 'alice-id:user',
      address: '127.0.0.1',
    });
    // Any other value is no credential: the token is checked, the address header ignored.
    const other = { [GATEWAY_TOKEN_HEADER]: 'o'.repeat(40), [PRINCIPAL_HEADER]: encodePrincipal(BOB), ...forgedAddress, authorization: 'Bearer alice-token' };
    expect(await ask(rotating, other)).toMatchObject({ caller: 'alice-id:user', address: '127.0.0.1' });
    expect(checks).toBe(2);
  });
});
