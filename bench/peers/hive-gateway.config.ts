// Hive Gateway's configuration for the bench (read by its CLI with `-c`): the same committed
// supergraph and the same subgraph processes as GiftPay's gateway (their loopback ports come
// from the environment, overriding the supergraph's routing URLs), the caller's JWT verified
// against the accounts JWKS with the same issuer and audience, and the Authorization header
// forwarded to every subgraph, which verifies it again as it does behind GiftPay's gateway.

import { createRemoteJwksSigningKeyProvider, defineConfig, extractFromHeader } from '@graphql-hive/gateway';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const accounts = required('BENCH_ACCOUNTS_URL');

export const gatewayConfig = defineConfig({
  logging: 'warn',
  transportEntries: {
    accounts: { location: `${accounts}/graphql` },
    wallet: { location: `${required('BENCH_WALLET_URL')}/graphql` },
    'gift-cards': { location: `${required('BENCH_GIFT_CARDS_URL')}/graphql` },
  },
  jwt: {
    signingKeyProviders: [createRemoteJwksSigningKeyProvider({ jwksUri: `${accounts}/.well-known/jwks.json` })],
    tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
    // Its plugin (jsonwebtoken) knows no EdDSA: the bench stack signs with ES256.
    tokenVerification: { algorithms: ['ES256'], issuer: required('BENCH_JWT_ISSUER'), audience: required('BENCH_JWT_AUDIENCE') },
    // As GiftPay's gateway: no token is an anonymous caller, a bad one is refused.
    reject: { missingToken: false, invalidToken: true },
    // The subgraphs read the forwarded header, not claims in the request's extensions.
    forward: { payload: false, token: false },
  },
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }),
  },
});
