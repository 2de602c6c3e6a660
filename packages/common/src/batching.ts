// Natural batching ("group commit" in the application): calls that arrive while earlier
// batches are on their way wait and leave together, one round trip and one commit for all of
// them; a call that finds nothing in flight leaves at once, alone. Under light load nothing
// waits; under a promotion's burst the batches grow by themselves, and the database and the
// services each handle one request, one statement and one commit per batch instead of per
// winner. DataLoader (graphql/dataloader) gathers the calls and hands each its own result;
// the scheduler below decides when a batch leaves.

import { AsyncResource } from 'node:async_hooks';
import DataLoader from 'dataloader';

export interface BatcherOptions {
  /** The most calls one batch carries. */
  readonly maxBatchSize: number;
  /** Batches on their way at once; a new batch waits (and gathers) until one returns. */
  readonly maxInFlight: number;
}

export interface Batcher<K, V> {
  /** Joins the batch that leaves next; settles with this call's own result. */
  load(key: K): Promise<V>;
  /** Calls made and not yet answered: gathering, waiting to leave or on their way. */
  readonly underway: number;
}

/**
 * `run` receives the calls of one batch and answers each, in order, with its result or an
 * Error for that call alone; a rejection of `run` fails every call of the batch.
 */
export function createBatcher<K, V>(run: (keys: readonly K[]) => Promise<readonly (V | Error)[]>, options: BatcherOptions): Batcher<K, V> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const leave = (dispatch: () => void) => {
    inFlight += 1;
    dispatch();
  };
  const loader = new DataLoader<K, V, K>(
    async (keys) => {
      try {
        return await run(keys);
      } finally {
        inFlight -= 1;
        const next = waiting.shift();
        if (next) leave(next);
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxBatchSize,
      // Called when a batch opens. With room in flight, it leaves once the calls of this turn
      // of the event loop have joined it; otherwise it gathers until a batch returns.
      batchScheduleFn: (dispatch) => {
        if (inFlight < options.maxInFlight) {
          inFlight += 1;
          setImmediate(dispatch);
        } else {
          // Sent later, from whichever batch returns first: bound to the context of the call
          // that opened it, so it runs (and is traced) as that call's work.
          waiting.push(AsyncResource.bind(dispatch));
        }
      },
    },
  );
  let underway = 0;
  return {
    async load(key) {
      underway += 1;
      try {
        return await loader.load(key);
      } finally {
        underway -= 1;
      }
    },
    get underway() {
      return underway;
    },
  };
}
