// What services write to their logs during a test: the loggers of a running stack are pointed
// at a buffer (and opened to every level), so a test can read exactly what production would have
// written, after pino's redaction, and look for what must never be there.

import type { Logger } from '@giftpay/common';

export interface CapturedLogs {
  /** Every line written so far, exactly as pino serialized it. */
  text(): string;
  /** The lines written so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Resolves once a line matches (an access line is written when the response has been sent, a moment after the client has it). */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Gives the loggers back their own stream and level. */
  stop(): void;
}

/** pino keeps a logger's destination under a symbol of its own (`pino.symbols.streamSym`). */
function streamSymbolOf(logger: Logger): symbol {
  let target: object | null = logger;
  while (target) {
    const symbol = Object.getOwnPropertySymbols(target).find((candidate) => candidate.description === 'pino.stream');
    if (symbol) return symbol;
    target = Object.getPrototypeOf(target);
  }
  throw new Error('not a pino logger: no pino.stream symbol');
}

/**
 * Sends what `loggers` (and every child they make, now or later) write to a buffer, at `level`.
 * Children created with `logger.child(bindings)` share their parent's stream and level through
 * their prototype, so the per-request loggers are captured too.
 */
export function captureLogs(loggers: readonly Logger[], level = 'trace'): CapturedLogs {
  const chunks: string[] = [];
  const sink = { write: (chunk: string) => chunks.push(String(chunk)) };
  const saved = loggers.map((logger) => {
    const symbol = streamSymbolOf(logger);
    const own = logger as unknown as Record<symbol, unknown>;
    const previous = { symbol, stream: own[symbol], level: logger.level };
    own[symbol] = sink;
    logger.level = level;
    return previous;
  });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    text: () => chunks.join(''),
    lines,
    async waitFor(match, timeoutMs = 5000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = lines().find(match);
        if (found) return found;
        if (performance.now() > deadline) throw new Error(`no log line matched within ${timeoutMs} ms`);
        await new Promise((done) => setTimeout(done, 10));
      }
    },
    stop() {
      for (const [index, logger] of loggers.entries()) {
        const previous = saved[index];
        if (!previous) continue;
        (logger as unknown as Record<symbol, unknown>)[previous.symbol] = previous.stream;
        logger.level = previous.level;
      }
    },
  };
}
