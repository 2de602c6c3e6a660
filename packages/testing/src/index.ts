// @giftpay/testing: databases and the in-process stack for GiftPay's tests.

export * from './addresses.ts';
export * from './browser.ts';
export * from './cli.ts';
export * from './database.ts';
export * from './faulty-proxy.ts';
export * from './gateway.ts';
export * from './http-clients.ts';
export * from './ledger.ts';
export * from './logs.ts';
export * from './outcome.ts';
export * from './paging.ts';
export * from './promotions.ts';
export * from './replicas.ts';
export * from './slot-shards.ts';
export * from './stack.ts';
export * from './stack-process.ts';
export * from './tokens.ts';
export * from './waits.ts';
