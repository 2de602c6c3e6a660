// What every service's main.ts does: start, say where it listens, and on SIGTERM or SIGINT
// stop accepting, finish in-flight requests, then release the database.

import { ConfigError } from './config.ts';
import type { Listening } from './http.ts';
import type { Logger } from './logger.ts';
import type { Tracing } from './tracing.ts';

export interface RunningService {
  readonly logger: Logger;
  readonly listening: Listening;
  /** Flushed after close, so the last spans of in-flight requests are exported. */
  readonly tracing?: Tracing | null;
  close(): Promise<void>;
}

export async function runService(name: string, start: () => Promise<RunningService>): Promise<void> {
  let running: RunningService;
  try {
    running = await start();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${name}: ${error.message}`);
    } else {
      console.error(`${name}: failed to start:`, error);
    }
    process.exit(1);
  }
  running.logger.info({ url: running.listening.url }, `${name} listening`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, `${name} stopping`);
    const forced = setTimeout(() => {
      running.logger.warn(`${name} did not stop within 10 s; exiting`);
      process.exit(1);
    }, 10_000);
    forced.unref();
    running.listening
      .close()
      .then(() => running.close())
      .then(() => running.tracing?.shutdown())
      .then(() => {
        running.logger.info(`${name} stopped`);
        process.exit(0);
      })
      .catch((error: unknown) => {
        running.logger.error({ err: error }, `${name} failed to stop cleanly`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Under `pnpm start`, a supervisor that dies without stopping us (SIGKILL, a crash) must not
  // leave this service running on its own: when our parent changes, stop.
  const supervisor = Number(process.env.GIFTPAY_SUPERVISOR_PID);
  if (Number.isInteger(supervisor) && supervisor > 0) {
    setInterval(() => {
      if (process.ppid !== supervisor) stop('supervisor gone');
    }, 1000).unref();
  }
}
