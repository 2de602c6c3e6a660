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
        // The service credential (SERVICE_TOKEN_HEADER), should headers ever be logged.
        'headers["x-giftpay-service-token"]',
        'req.headers["x-giftpay-service-token"]',
        // The gateway's credential (GATEWAY_TOKEN_HEADER), likewise.
        'headers["x-giftpay-gateway-token"]',
        'req.headers["x-giftpay-gateway-token"]',
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
