// Structured JSON logs (pino). Tokens, passwords and gift-card codes are redacted where a
// logged object may hold them; `err.code` (a SQLSTATE, say) stays readable.

import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'authorization',
        'headers.authorization',
        'req.headers.authorization',
        '*.password',
        'password',
        '*.token',
        'token',
        'input.code',
        'variables.code',
        'variables.input.code',
        'variables.input.password',
      ],
      censor: '[redacted]',
    },
  });
}
