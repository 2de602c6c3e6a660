// Money as an integer count of minor units with an ISO 4217 currency. Amounts cross the
// GraphQL edge as exact decimal strings; inside, they are bigint and never floats.

import { BadUserInputError } from './errors.ts';

/** Decimal places (the ISO 4217 "minor unit") of the currencies GiftPay accepts. */
const MINOR_UNITS: Readonly<Record<string, number>> = Object.freeze({
  IRR: 0,
  USD: 2,
  EUR: 2,
  GBP: 2,
  JPY: 0,
  CAD: 2,
  AUD: 2,
  CHF: 2,
  AED: 2,
  TRY: 2,
  KWD: 3,
  BHD: 3,
});

/** The largest number PostgreSQL's bigint (and so any amount column) can hold. */
export const MAX_MINOR_UNITS = 9_223_372_036_854_775_807n;

/**
 * The largest amount of one movement (a card's value, a spend, a transfer, a credit):
 * 10^15 minor units, e.g. 10 trillion USD or 10^15 IRR. Far below the bigint limit, so no
 * sum the ledger forms can overflow; refused with BAD_USER_INPUT where it enters.
 */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000_000n;

/** The largest balance a wallet may reach: 10^16 minor units. A credit past it is refused (BAD_USER_INPUT). */
export const MAX_BALANCE_MINOR = 10_000_000_000_000_000n;

export interface Money {
  readonly minor: bigint;
  readonly currencyCode: string;
}

export function isSupportedCurrency(code: string): boolean {
  return Object.hasOwn(MINOR_UNITS, code);
}

export function supportedCurrencies(): string[] {
  return Object.keys(MINOR_UNITS);
}

export function minorUnitsOf(currencyCode: string): number {
  // Own keys only: `toString` or `constructor` are on every object, and are no currency.
  const digits = Object.hasOwn(MINOR_UNITS, currencyCode) ? MINOR_UNITS[currencyCode] : undefined;
  if (digits === undefined) {
    throw new BadUserInputError(`Unsupported currency "${currencyCode}". Supported: ${supportedCurrencies().join(', ')}.`);
  }
  return digits;
}

const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;

/** True when the string is a plain decimal number such as "12", "-3.50" or "0.001". */
export function isDecimalString(value: string): boolean {
  return DECIMAL_PATTERN.test(value);
}

/**
 * Converts a decimal string in the currency's major unit to minor units, refusing
 * more decimals than the currency has. Sign is kept; callers decide what sign they allow.
 */
export function decimalToMinor(amount: string, currencyCode: string): bigint {
  const digits = minorUnitsOf(currencyCode);
  const match = DECIMAL_PATTERN.exec(amount);
  if (!match) throw new BadUserInputError(`"${amount}" is not a decimal number.`);
  const [, sign, whole = '0', fraction = ''] = match;
  const trimmedFraction = fraction.replace(/0+$/, '');
  if (trimmedFraction.length > digits) {
    throw new BadUserInputError(
      digits === 0
        ? `${currencyCode} has no minor unit: "${amount}" must be a whole number.`
        : `${currencyCode} has ${digits} decimal places: "${amount}" has more.`,
    );
  }
  const minor = BigInt(whole + trimmedFraction.padEnd(digits, '0'));
  return sign === '-' ? -minor : minor;
}

/** Formats minor units as the exact decimal string of the currency's major unit. */
export function minorToDecimal(minor: bigint, currencyCode: string): string {
  const digits = minorUnitsOf(currencyCode);
  const negative = minor < 0n;
  const text = (negative ? -minor : minor).toString();
  if (digits === 0) return (negative ? '-' : '') + text;
  const padded = text.padStart(digits + 1, '0');
  const whole = padded.slice(0, padded.length - digits);
  const fraction = padded.slice(padded.length - digits);
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}

/** Parses a client's `MoneyInput` into a positive amount of minor units. */
export function parsePositiveMoney(input: { amount: string; currencyCode: string }): Money {
  const currencyCode = input.currencyCode.trim().toUpperCase();
  const minor = decimalToMinor(input.amount, currencyCode);
  if (minor <= 0n) throw new BadUserInputError(`The amount must be greater than zero, got "${input.amount}".`);
  if (minor > MAX_AMOUNT_MINOR) {
    throw new BadUserInputError(
      `The amount "${input.amount}" is too large: at most ${minorToDecimal(MAX_AMOUNT_MINOR, currencyCode)} ${currencyCode} at once.`,
    );
  }
  return { minor, currencyCode };
}

/** The GraphQL `Money` object for an amount of minor units. */
export function toMoneyObject(minor: bigint, currencyCode: string): { amount: string; currencyCode: string } {
  return { amount: minorToDecimal(minor, currencyCode), currencyCode };
}
