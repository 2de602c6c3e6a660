// Structured JSON logs (pino). Tokens, passwords and codes are redacted wherever they appear
// in a logged object.

import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['authorization', 'headers.authorization', 'req.headers.authorization', '*.password', 'password', '*.token', 'token', '*.code', 'variables.*'],
      censor: '[redacted]',
    },
  });
}
