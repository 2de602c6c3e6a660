// Signs access tokens with the accounts subgraph's asymmetric key and publishes the public
// half as a JWKS, which the gateway and the other subgraphs use to verify.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Principal } from '@giftpay/common';
import { calculateJwkThumbprint, exportJWK, type JSONWebKeySet, SignJWT } from 'jose';

export type SigningAlgorithm = 'EdDSA' | 'ES256';

export interface TokenSigner {
  readonly jwks: JSONWebKeySet;
  readonly ttlSeconds: number;
  sign(principal: Principal): Promise<string>;
}

export function generateSigningKeyPem(algorithm: SigningAlgorithm): string {
  const { privateKey } = algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function algorithmOf(key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error('JWT_PRIVATE_KEY must be an Ed25519 or P-256 private key in PKCS#8 PEM');
}

export async function createTokenSigner(options: { privateKeyPem: string; issuer: string; audience: string; ttlSeconds: number }): Promise<TokenSigner> {
  const privateKey = createPrivateKey(options.privateKeyPem);
  const algorithm = algorithmOf(privateKey);
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: algorithm, use: 'sig' }] };
  return {
    jwks,
    ttlSeconds: options.ttlSeconds,
    sign(principal) {
      return new SignJWT({ roles: [...principal.roles], preferred_username: principal.username })
        .setProtectedHeader({ alg: algorithm, kid, typ: 'JWT' })
        .setSubject(principal.userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime(`${options.ttlSeconds}s`)
        .setJti(crypto.randomUUID())
        .sign(privateKey);
    },
  };
}
