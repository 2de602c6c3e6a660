// Money is an integer count of minor units: exact decimal strings in, exact decimal strings
// out, bigint in between, never a float.

import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../src/errors.ts';
import {
  decimalToMinor,
  isDecimalString,
  isSupportedCurrency,
  MAX_AMOUNT_MINOR,
  MAX_BALANCE_MINOR,
  MAX_MINOR_UNITS,
  minorToDecimal,
  minorUnitsOf,
  parsePositiveMoney,
  supportedCurrencies,
  toMoneyObject,
} from '../src/money.ts';

describe('decimalToMinor and minorToDecimal', () => {
  it.each([
    ['IRR', '1000000', 1_000_000n, '1000000'],
    ['IRR', '1', 1n, '1'],
    ['IRR', '-250', -250n, '-250'],
    ['USD', '12.50', 1250n, '12.50'],
    ['USD', '0.01', 1n, '0.01'],
    ['USD', '12', 1200n, '12.00'],
    ['USD', '-3.5', -350n, '-3.50'],
    ['KWD', '1.234', 1234n, '1.234'],
    ['KWD', '0.001', 1n, '0.001'],
    ['KWD', '12', 12_000n, '12.000'],
  ])('converts %s %s to %s minor units and back to %s', (currency, decimal, minor, canonical) => {
    expect(decimalToMinor(decimal, currency)).toBe(minor);
    expect(minorToDecimal(minor, currency)).toBe(canonical);
    expect(decimalToMinor(minorToDecimal(minor, currency), currency)).toBe(minor);
  });

  it.each([
    ['IRR', '1.5'],
    ['JPY', '100.1'],
    ['USD', '12.345'],
    ['USD', '0.001'],
    ['KWD', '0.0001'],
    ['KWD', '1.2345'],
  ])('refuses more decimals than the currency has (%s %s)', (currency, decimal) => {
    expect(() => decimalToMinor(decimal, currency)).toThrow(BadUserInputError);
  });

  it('explains that a currency without a minor unit takes whole numbers only', () => {
    expect(() => decimalToMinor('1.5', 'IRR')).toThrow(/IRR has no minor unit/);
    expect(() => decimalToMinor('1.005', 'USD')).toThrow(/USD has 2 decimal places/);
  });

  it.each([
    ['USD', '12.50', 1250n],
    ['USD', '12.500', 1250n],
    ['USD', '12.000000', 1200n],
    ['IRR', '1.0', 1n],
    ['IRR', '1.000', 1n],
    ['KWD', '1.2300', 1230n],
  ])('accepts trailing zeros beyond the currency precision (%s %s)', (currency, decimal, minor) => {
    expect(decimalToMinor(decimal, currency)).toBe(minor);
  });

  it.each(['', ' 12', '12 ', '1e3', '1E3', '+5', '.5', '5.', '1,000', '12.5.0', '--1', 'NaN', 'Infinity', '0x10', '12abc', '١٢'])(
    'refuses the malformed number %j',
    (decimal) => {
      expect(() => decimalToMinor(decimal, 'USD')).toThrow(BadUserInputError);
    },
  );

  it.each(['XYZ', 'usd', 'US', '', 'BTC'])('refuses the unsupported currency %j in both directions', (currency) => {
    expect(() => decimalToMinor('1', currency)).toThrow(BadUserInputError);
    expect(() => minorToDecimal(1n, currency)).toThrow(BadUserInputError);
    expect(() => minorUnitsOf(currency)).toThrow(/Unsupported currency/);
  });

  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'])('refuses the object member name %j as a currency', (currency) => {
    expect(() => minorUnitsOf(currency)).toThrow(BadUserInputError);
    expect(() => decimalToMinor('1.5', currency)).toThrow(BadUserInputError);
    expect(() => minorToDecimal(12345n, currency)).toThrow(BadUserInputError);
  });

  it('keeps amounts beyond float precision exact', () => {
    // 2^53 + 1 minor units: a double cannot hold it.
    expect(decimalToMinor('90071992547409.93', 'USD')).toBe(9_007_199_254_740_993n);
    expect(minorToDecimal(9_007_199_254_740_993n, 'USD')).toBe('90071992547409.93');
    // 0.29 * 100 is 28.999999999999996 in floating point.
    expect(decimalToMinor('0.29', 'USD')).toBe(29n);
    expect(decimalToMinor('1.005', 'KWD')).toBe(1005n);
  });

  it('returns a bigint and formats to a string, never a number', () => {
    expect(typeof decimalToMinor('12.50', 'USD')).toBe('bigint');
    expect(typeof minorToDecimal(1250n, 'USD')).toBe('string');
  });

  it('pads small amounts with leading zeros in the major unit', () => {
    expect(minorToDecimal(5n, 'USD')).toBe('0.05');
    expect(minorToDecimal(5n, 'KWD')).toBe('0.005');
    expect(minorToDecimal(-5n, 'USD')).toBe('-0.05');
    expect(minorToDecimal(0n, 'USD')).toBe('0.00');
    expect(minorToDecimal(0n, 'IRR')).toBe('0');
  });

  it('round-trips the largest amount a ledger may hold', () => {
    expect(minorToDecimal(MAX_MINOR_UNITS, 'USD')).toBe('92233720368547758.07');
    expect(decimalToMinor('92233720368547758.07', 'USD')).toBe(MAX_MINOR_UNITS);
    expect(decimalToMinor('9223372036854775807', 'IRR')).toBe(MAX_MINOR_UNITS);
  });
});

describe('parsePositiveMoney', () => {
  it('parses a client amount into minor units of an upper-cased currency', () => {
    expect(parsePositiveMoney({ amount: '12.50', currencyCode: 'USD' })).toEqual({ minor: 1250n, currencyCode: 'USD' });
    expect(parsePositiveMoney({ amount: '1000000', currencyCode: ' irr ' })).toEqual({ minor: 1_000_000n, currencyCode: 'IRR' });
    expect(parsePositiveMoney({ amount: '0.001', currencyCode: 'kwd' })).toEqual({ minor: 1n, currencyCode: 'KWD' });
  });

  it.each(['0', '0.00', '-0', '0.000'])('refuses the zero amount %j', (amount) => {
    expect(() => parsePositiveMoney({ amount, currencyCode: 'USD' })).toThrow(/greater than zero/);
  });

  it.each(['-1', '-0.01', '-1000000'])('refuses the negative amount %j', (amount) => {
    expect(() => parsePositiveMoney({ amount, currencyCode: 'USD' })).toThrow(BadUserInputError);
  });

  it.each([
    ['IRR', '9223372036854775808'],
    ['USD', '92233720368547758.08'],
    ['KWD', '9223372036854775.808'],
    ['IRR', '99999999999999999999999999999999'],
    ['IRR', '1000000000000001'],
    ['USD', '10000000000000.01'],
    ['KWD', '1000000000000.001'],
  ])('refuses %s %s, above the largest amount of one movement', (currencyCode, amount) => {
    expect(() => parsePositiveMoney({ amount, currencyCode })).toThrow(/too large: at most/);
  });

  it('accepts exactly the largest amount of one movement, 10^15 minor units, far below the bigint maximum', () => {
    expect(parsePositiveMoney({ amount: '1000000000000000', currencyCode: 'IRR' }).minor).toBe(MAX_AMOUNT_MINOR);
    expect(parsePositiveMoney({ amount: '10000000000000.00', currencyCode: 'USD' }).minor).toBe(MAX_AMOUNT_MINOR);
    expect(MAX_BALANCE_MINOR * 100n).toBeLessThan(MAX_MINOR_UNITS);
  });

  it('refuses unsupported currencies, including Object.prototype names once upper-cased', () => {
    expect(() => parsePositiveMoney({ amount: '1', currencyCode: 'XYZ' })).toThrow(BadUserInputError);
    expect(() => parsePositiveMoney({ amount: '1', currencyCode: 'toString' })).toThrow(BadUserInputError);
    expect(() => parsePositiveMoney({ amount: '1', currencyCode: '__proto__' })).toThrow(BadUserInputError);
  });

  it('refuses more decimals than the currency has', () => {
    expect(() => parsePositiveMoney({ amount: '1.5', currencyCode: 'IRR' })).toThrow(BadUserInputError);
    expect(() => parsePositiveMoney({ amount: '1.001', currencyCode: 'USD' })).toThrow(BadUserInputError);
  });
});

describe('currencies', () => {
  it('supports IRR, USD and KWD by their exact ISO code only', () => {
    expect(supportedCurrencies()).toEqual(expect.arrayContaining(['IRR', 'USD', 'KWD']));
    expect(isSupportedCurrency('USD')).toBe(true);
    expect(isSupportedCurrency('usd')).toBe(false);
    expect(isSupportedCurrency('toString')).toBe(false);
    expect(isSupportedCurrency('XYZ')).toBe(false);
  });

  it('knows the minor unit of each currency', () => {
    expect(minorUnitsOf('IRR')).toBe(0);
    expect(minorUnitsOf('USD')).toBe(2);
    expect(minorUnitsOf('KWD')).toBe(3);
  });

  it('recognises plain decimal strings only', () => {
    expect(isDecimalString('-3.50')).toBe(true);
    expect(isDecimalString('12')).toBe(true);
    expect(isDecimalString('1e5')).toBe(false);
    expect(isDecimalString('12.')).toBe(false);
  });

  it('builds the GraphQL Money object with an exact decimal string', () => {
    expect(toMoneyObject(1250n, 'USD')).toEqual({ amount: '12.50', currencyCode: 'USD' });
    expect(toMoneyObject(1_000_000n, 'IRR')).toEqual({ amount: '1000000', currencyCode: 'IRR' });
  });
});
