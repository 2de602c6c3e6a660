// Natural batching: a call that finds room leaves at once (with the calls of the same turn of
// the event loop); calls that arrive while `maxInFlight` batches are on their way gather and
// leave together when one returns, `maxBatchSize` at most; each call gets its own result, an
// Error for one call fails that call alone, and a failed batch fails each of its calls.

import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { createBatcher } from '../src/batching.ts';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

const turn = () => new Promise((done) => setImmediate(done));

/** A batcher whose batches wait until the test answers them, recording what each carried. */
function recordingBatcher(options: { maxBatchSize: number; maxInFlight: number }) {
  const batches: { keys: readonly number[]; answer: ReturnType<typeof deferred<readonly (string | Error)[]>> }[] = [];
  const batcher = createBatcher<number, string>((keys) => {
    const answer = deferred<readonly (string | Error)[]>();
    batches.push({ keys, answer });
    return answer.promise;
  }, options);
  const settle = (index: number) => {
    const batch = batches[index];
    batch?.answer.resolve(batch.keys.map((key) => `done ${key}`));
  };
  return { batcher, batches, settle };
}

describe('createBatcher', () => {
  it('sends a call that finds room at once, alone, and answers it', async () => {
    const { batcher, batches, settle } = recordingBatcher({ maxBatchSize: 50, maxInFlight: 2 });
    const result = batcher.load(7);
    await turn();
    expect(batches.map((batch) => batch.keys)).toEqual([[7]]);
    settle(0);
    expect(await result).toBe('done 7');
  });

  it('gathers the calls that arrive while the batches in flight are out, and sends them together when one returns', async () => {
    const { batcher, batches, settle } = recordingBatcher({ maxBatchSize: 50, maxInFlight: 2 });
    const first = batcher.load(1);
    await turn();
    const second = batcher.load(2);
    await turn();
    // Two on their way: the next ones wait, however many turns go by.
    const waiting = [3, 4, 5].map((key) => batcher.load(key));
    await turn();
    const late = batcher.load(6);
    await turn();
    expect(batches.map((batch) => batch.keys)).toEqual([[1], [2]]);
    // Every call not yet answered is underway, the ones still waiting to leave included.
    expect(batcher.underway).toBe(6);
    settle(1);
    await turn();
    expect(batches.map((batch) => batch.keys)).toEqual([[1], [2], [3, 4, 5, 6]]);
    expect(batcher.underway).toBe(5);
    settle(0);
    settle(2);
    expect(await Promise.all([first, second, ...waiting, late])).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5', 'done 6']);
    expect(batcher.underway).toBe(0);
  });

  it('runs a batch that waited in the context of the call that opened it, not of the batch whose return let it go', async () => {
    const request = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const answers: ReturnType<typeof deferred<readonly string[]>>[] = [];
    const batcher = createBatcher<string, string>(
      (keys) => {
        seen.push(request.getStore());
        const answer = deferred<readonly string[]>();
        answers.push(answer);
        return answer.promise.then(() => keys.map((key) => `done ${key}`));
      },
      { maxBatchSize: 50, maxInFlight: 1 },
    );
    const first = request.run('first request', () => batcher.load('a'));
    await turn();
    const second = request.run('second request', () => batcher.load('b'));
    await turn();
    answers[0]?.resolve([]);
    await first;
    await turn();
    answers[1]?.resolve([]);
    expect(await second).toBe('done b');
    expect(seen).toEqual(['first request', 'second request']);
  });

  it('sends no more than maxBatchSize calls in a batch', async () => {
    const { batcher, batches, settle } = recordingBatcher({ maxBatchSize: 3, maxInFlight: 1 });
    const results = [1, 2, 3, 4, 5, 6, 7].map((key) => batcher.load(key));
    await turn();
    for (let index = 0; index < 3; index += 1) {
      settle(index);
      await turn();
    }
    expect(batches.map((batch) => batch.keys)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(await Promise.all(results)).toHaveLength(7);
  });

  it('fails only the call whose result is an Error, and every call of a batch that failed', async () => {
    let round = 0;
    const batcher = createBatcher<number, number>(
      async (keys) => {
        round += 1;
        if (round === 2) throw new Error('the wallet did not answer');
        return keys.map((key) => (key === 2 ? new Error(`refused ${key}`) : key * 10));
      },
      { maxBatchSize: 50, maxInFlight: 1 },
    );
    const settled = await Promise.allSettled([1, 2, 3].map((key) => batcher.load(key)));
    expect(settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as Error).message))).toEqual([10, 'refused 2', 30]);
    const failed = await Promise.allSettled([4, 5].map((key) => batcher.load(key)));
    expect(failed.map((outcome) => outcome.status === 'rejected' && (outcome.reason as Error).message)).toEqual([
      'the wallet did not answer',
      'the wallet did not answer',
    ]);
    // The failed batch gave its place back: the next call is sent and answered.
    expect(await batcher.load(6)).toBe(60);
  });
});
