// @giftpay/testing: databases and the in-process stack for GiftPay's tests.
export * from './database.ts';
export * from './faulty-proxy.ts';
export * from './outcome.ts';
export * from './stack.ts';
export * from './stack-process.ts';
