// The contract's scalars. Decimal travels as an exact string, never a float; DateTime as an
// ISO-8601 instant in UTC.

import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { isDecimalString } from './money.ts';

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number serialized as a string, e.g. "1000000" or "12.50". Never a float.',
  serialize(value) {
    if (typeof value === 'string' && isDecimalString(value)) return value;
    if (typeof value === 'bigint') return value.toString();
    throw new GraphQLError('Decimal cannot represent this value.');
  },
  parseValue(value) {
    if (typeof value === 'string' && isDecimalString(value.trim())) return value.trim();
    throw badInput(`A Decimal is a string such as "12.50"; got ${JSON.stringify(value)}.`);
  },
  parseLiteral(ast) {
    if ((ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) && isDecimalString(ast.value.trim())) {
      return ast.value.trim();
    }
    throw badInput('A Decimal is a string such as "12.50".');
  },
});

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** True when every field names a real calendar value: no 30 February, no 24:00, no +25:00. */
function isRealInstant(match: RegExpExecArray): boolean {
  // Absent optional parts (seconds, offset) count as 0.
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offsetHours = 0, offsetMinutes = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? 0 : Number(part)));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour < 24 && minute < 60 && second < 60 && offsetHours < 24 && offsetMinutes < 60;
}

function parseInstant(value: unknown): Date {
  const match = typeof value === 'string' ? ISO_INSTANT.exec(value) : null;
  if (typeof value === 'string' && match && isRealInstant(match)) {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw badInput(`A DateTime is an ISO-8601 instant such as "2026-11-24T10:00:00.000Z"; got ${JSON.stringify(value)}.`);
}

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An ISO-8601 instant in UTC, e.g. "2026-11-24T10:00:00.000Z".',
  serialize(value) {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'string') return parseInstant(value).toISOString();
    throw new GraphQLError('DateTime cannot represent this value.');
  },
  parseValue: parseInstant,
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING) return parseInstant(ast.value);
    throw badInput('A DateTime is a string such as "2026-11-24T10:00:00.000Z".');
  },
});
