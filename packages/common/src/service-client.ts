// Service-to-service calls that never pass through the gateway: a JSON POST carrying the
// shared service credential, with a timeout, and the check of that credential on the
// receiving side (constant-time).

import { createHash, timingSafeEqual } from 'node:crypto';
import { type HttpAnswer, HttpTimeoutError, httpCall } from './http-client.ts';
import { injectTraceContext } from './tracing.ts';

export const SERVICE_TOKEN_HEADER = 'x-giftpay-service-token';

/** The address of the client the gateway serves, passed to subgraphs for per-address limits. */
export const CLIENT_ADDRESS_HEADER = 'x-giftpay-client-address';

export function serviceTokenMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string' || given === '') return false;
  // Hash both sides first so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export class ServiceCallError extends Error {
  override readonly name = 'ServiceCallError';
  readonly status: number | null;
  readonly body: unknown;
  constructor(message: string, status: number | null, body: unknown = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export interface ServiceCall {
  readonly url: string;
  readonly serviceToken: string;
  readonly body: unknown;
  readonly timeoutMs: number;
  readonly requestId?: string;
}

export async function postToService<T>(call: ServiceCall): Promise<T> {
  let answer: HttpAnswer;
  try {
    answer = await httpCall(call.url, {
      method: 'POST',
      headers: {
        ...injectTraceContext({}),
        'content-type': 'application/json',
        [SERVICE_TOKEN_HEADER]: call.serviceToken,
        ...(call.requestId ? { 'x-request-id': call.requestId } : {}),
      },
      body: JSON.stringify(call.body),
      timeoutMs: call.timeoutMs,
    });
  } catch (error) {
    const reason = error instanceof HttpTimeoutError ? `timed out after ${call.timeoutMs} ms` : (error as Error).message;
    throw new ServiceCallError(`POST ${call.url} failed: ${reason}`, null);
  }
  let parsed: unknown = null;
  try {
    parsed = answer.text === '' ? null : JSON.parse(answer.text);
  } catch {
    parsed = answer.text;
  }
  if (answer.status < 200 || answer.status > 299) throw new ServiceCallError(`POST ${call.url} answered ${answer.status}`, answer.status, parsed);
  return parsed as T;
}
