// What a user reads when an operation fails: the gateway's message and its contract code.

import { CombinedGraphQLErrors } from '@apollo/client';

export function describeError(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors.map((each) => (typeof each.extensions?.code === 'string' ? `${each.message} (${each.extensions.code})` : each.message)).join(' ');
  }
  return error instanceof Error ? error.message : String(error);
}

/** True when the token was refused (expired, or signed by a key that is gone): the user must log in again. */
export function isUnauthenticated(error: unknown): boolean {
  return CombinedGraphQLErrors.is(error) && error.errors.some((each) => each.extensions?.code === 'UNAUTHENTICATED');
}
