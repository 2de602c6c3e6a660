// Tokens for the tests of who is let in. A hostile token is built from claims a verifier
// accepts, with exactly one fault, so a refusal can only come from the fault the test names;
// a key set the test controls (what it publishes, how often it is fetched) serves key rotation
// and the key-set cache; and requests can come from a loopback address of the test's own, so
// per-address limits belong to one test.

import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { type Listening, listen } from '@giftpay/common';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import type { GraphQLResult } from './stack.ts';

/** What the services expect by default (JWT_ISSUER, JWT_AUDIENCE). */
export const TOKEN_ISSUER = 'giftpay-accounts';
export const TOKEN_AUDIENCE = 'giftpay-api';

export interface TokenHeader {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
}

/** Seconds since the epoch by `Date`, so a test that sets the clock moves this too. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Claims every verifier of ours accepts for `subject`: issued now, five minutes to live, our issuer and audience. */
export function validClaims(subject: string, overrides: JWTPayload & Record<string, unknown> = {}): JWTPayload & Record<string, unknown> {
  const now = nowSeconds();
  return { sub: subject, roles: ['user'], iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now, exp: now + 300, ...overrides };
}

/** Signs exactly this header and these claims (nothing is added) with a private key or an HMAC secret. */
export async function signToken(header: TokenHeader, claims: JWTPayload, key: KeyObject | Uint8Array): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ ...header }).sign(key);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** This header and these claims with no signature at all, as `alg: none` tokens are written. */
export function unsignedToken(header: TokenHeader, claims: JWTPayload): string {
  return `${base64url(header)}.${base64url(claims)}.`;
}

/** `token` with its payload replaced by `claims`, keeping its header and its (now wrong) signature. */
export function withPayload(token: string, claims: JWTPayload): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64url(claims)}.${signature}`;
}

export function headerOf(token: string): TokenHeader {
  return decodeProtectedHeader(token) as TokenHeader;
}

export function claimsOf(token: string): JWTPayload & Record<string, unknown> {
  return decodeJwt(token);
}

export interface SigningKey {
  readonly privateKey: KeyObject;
  /** The RFC 7638 thumbprint, as accounts names its keys. */
  readonly kid: string;
  /** The public half, as published in a JWKS. */
  readonly jwk: JWK;
}

/** The public JWK of an Ed25519 private key, under its thumbprint (or the given kid). */
export async function signingKeyOf(privateKey: KeyObject, kid?: string): Promise<SigningKey> {
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const keyId = kid ?? (await calculateJwkThumbprint(publicJwk));
  return { privateKey, kid: keyId, jwk: { ...publicJwk, kid: keyId, alg: 'EdDSA', use: 'sig' } };
}

/** A new Ed25519 signing key that no service trusts until a key set publishes it. */
export async function newSigningKey(kid?: string): Promise<SigningKey> {
  return signingKeyOf(generateKeyPairSync('ed25519').privateKey, kid);
}

export interface KeySetServer {
  /** The JWKS URL, for JWKS_URL. */
  readonly url: string;
  /** How many times the key set has been fetched. */
  readonly fetches: number;
  /** Replaces the published keys; the next fetch sees them. */
  publish(keys: readonly JWK[]): void;
  close(): Promise<void>;
}

/** A JWKS endpoint on port 0 that publishes what the test says and counts its fetches. */
export async function startKeySetServer(keys: readonly JWK[]): Promise<KeySetServer> {
  let published = [...keys];
  let fetches = 0;
  const server = createServer((request, response) => {
    if (request.url !== '/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
  });
  const listening: Listening = await listen(server, 0, '127.0.0.1');
  return {
    url: `${listening.url}/jwks.json`,
    get fetches() {
      return fetches;
    },
    publish(next) {
      published = [...next];
    },
    async close() {
      server.closeAllConnections();
      await listening.close();
    },
  };
}

const usedAddresses = new Set<string>();

/**
 * A loopback address (127.x.y.z) no other call in this process was given. Linux answers the
 * whole 127.0.0.0/8 on the loopback interface, so a request sent from it reaches a server on
 * 127.0.0.1 and the server sees this address: a budget per client address of the test's own.
 */
export function freshLoopbackAddress(): string {
  for (;;) {
    const [a, b, c] = [2 + Math.floor(Math.random() * 250), Math.floor(Math.random() * 256), 1 + Math.floor(Math.random() * 254)];
    const address = `127.${a}.${b}.${c}`;
    if (!usedAddresses.has(address)) {
      usedAddresses.add(address);
      return address;
    }
  }
}

/** A GraphQL POST to `url` (a `/graphql` endpoint) sent from the local address `from`. */
export async function graphqlFrom<TData = Record<string, unknown>>(
  from: string,
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResult<TData>> {
  const payload = JSON.stringify({ query, variables: options.variables ?? {} });
  const target = new URL(url);
  const { status, headers, text } = await new Promise<{ status: number; headers: Headers; text: string }>((done, fail) => {
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        localAddress: from,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', fail);
        response.on('end', () => {
          const received = new Headers();
          for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') received.set(name, value);
          done({ status: response.statusCode ?? 0, headers: received, text: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    outgoing.on('error', fail);
    outgoing.end(payload);
  });
  const body = JSON.parse(text) as { data?: unknown; errors?: GraphQLResult['errors'] };
  return { status, headers, data: body.data as never, errors: body.errors, body };
}
