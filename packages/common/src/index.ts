// @giftpay/common: what every GiftPay service shares. The database pool and migrations are
// `@giftpay/common/db` (db.ts) and the attempt limiter `@giftpay/common/attempt-limiter`: only
// the subgraphs load them, and with them drizzle and the driver.

export * from './auth.ts';
export * from './authorization.ts';
export * from './config.ts';
export * from './database-errors.ts';
export * from './dev-secrets.ts';
export * from './errors.ts';
export * from './gateway-identity.ts';
export * from './http.ts';
export * from './http-client.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './money.ts';
export * from './pagination.ts';
export * from './run-service.ts';
export * from './scalars.ts';
export * from './secret-files.ts';
export * from './service-client.ts';
export * from './subgraph.ts';
export * from './text.ts';
export * from './tracing.ts';
