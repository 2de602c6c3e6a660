// What a call ended with, for tests: the contract code it failed with (null when it succeeded),
// or the ConfigError a configuration was refused with.

import { ConfigError } from '@giftpay/common';

export async function errorCodeOf(promise: Promise<unknown>): Promise<string | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

/** The ConfigError `run` throws; anything else (another error, or no error) fails the test. */
export function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`expected a ConfigError, got ${String(error)}`);
  }
  throw new Error('expected the call to throw');
}
