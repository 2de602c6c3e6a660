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
  let running: RunningService | undefined;
  // A promise rejected with no handler is a bug to log with its context, not a reason to drop
  // every request in flight (Node's default is to exit): the service goes on. An uncaught
  // exception may have left state half-changed, so that one still ends the process, after
  // saying why; `pnpm start` or the orchestrator restarts it.
  process.on('unhandledRejection', (reason) => {
    if (running) running.logger.error({ err: reason }, `${name}: unhandled promise rejection; the service goes on`);
    else console.error(`${name}: unhandled promise rejection:`, reason);
  });
  process.on('uncaughtException', (error) => {
    if (running) running.logger.fatal({ err: error }, `${name}: uncaught exception; exiting`);
    else console.error(`${name}: uncaught exception:`, error);
    process.exit(1);
  });
  try {
    running = await start();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${name}: ${error.message}`);
      // EX_CONFIG from sysexits.h: a supervisor knows that starting it again cannot help.
      process.exit(78);
    }
    console.error(`${name}: failed to start:`, error);
    process.exit(1);
  }
  const service = running;
  service.logger.info({ url: service.listening.url }, `${name} listening`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    service.logger.info({ signal }, `${name} stopping`);
    const forced = setTimeout(() => {
      service.logger.warn(`${name} did not stop within 10 s; exiting`);
      process.exit(1);
    }, 10_000);
    forced.unref();
    service.listening
      .close()
      .then(() => service.close())
      .then(() => service.tracing?.shutdown())
      .then(() => {
        service.logger.info(`${name} stopped`);
        process.exit(0);
      })
      .catch((error: unknown) => {
        service.logger.error({ err: error }, `${name} failed to stop cleanly`);
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
