// @giftpay/common: what every GiftPay service shares.

export * from './attempt-limiter.ts';
export * from './auth.ts';
export * from './authorization.ts';
export * from './config.ts';
export * from './db.ts';
export * from './dev-secrets.ts';
export * from './errors.ts';
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
export * from './tracing.ts';
