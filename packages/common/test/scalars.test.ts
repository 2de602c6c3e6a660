// The contract's scalars: Decimal is an exact string (never a float) and DateTime an
// ISO-8601 instant; bad input is the client's fault (BAD_USER_INPUT).

import { GraphQLError, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, graphql, Kind, parseValue as parseLiteralText } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DateTimeScalar, DecimalScalar } from '../src/scalars.ts';

function thrown(run: () => unknown): GraphQLError {
  try {
    run();
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw new Error(`expected a GraphQLError, got ${String(error)}`);
  }
  throw new Error('expected the call to throw');
}

describe('Decimal', () => {
  describe('serialize', () => {
    it('sends decimal strings and bigints as exact strings', () => {
      expect(DecimalScalar.serialize('12.50')).toBe('12.50');
      expect(DecimalScalar.serialize(1250n)).toBe('1250');
      expect(DecimalScalar.serialize(-5n)).toBe('-5');
      expect(DecimalScalar.serialize(9_223_372_036_854_775_807n)).toBe('9223372036854775807');
    });

    it.each([12.5, 12, 'abc', '1e3', null, undefined, true])('refuses to send %j', (value) => {
      expect(() => DecimalScalar.serialize(value)).toThrow(GraphQLError);
    });
  });

  describe('parseValue (variables)', () => {
    it('accepts a decimal string and trims surrounding spaces', () => {
      expect(DecimalScalar.parseValue('12.50')).toBe('12.50');
      expect(DecimalScalar.parseValue(' 12.50 ')).toBe('12.50');
      expect(DecimalScalar.parseValue('-3')).toBe('-3');
    });

    it.each([12.5, 12, 0])('refuses the number %j with BAD_USER_INPUT', (value) => {
      const error = thrown(() => DecimalScalar.parseValue(value));
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
    });

    it.each(['1e3', 'twelve', '', '12,50', true, null, {}, ['1']])('refuses %j with BAD_USER_INPUT', (value) => {
      expect(thrown(() => DecimalScalar.parseValue(value)).extensions.code).toBe('BAD_USER_INPUT');
    });

    it('refuses a number variable in a real operation with BAD_USER_INPUT', async () => {
      const schema = new GraphQLSchema({
        query: new GraphQLObjectType({
          name: 'Query',
          fields: {
            echo: {
              type: GraphQLString,
              args: { amount: { type: new GraphQLNonNull(DecimalScalar) } },
              resolve: (_source, args: { amount: string }) => args.amount,
            },
          },
        }),
      });
      const source = 'query Echo($amount: Decimal!) { echo(amount: $amount) }';

      const refused = await graphql({ schema, source, variableValues: { amount: 12.5 } });
      expect(refused.data).toBeUndefined();
      expect(refused.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');

      const accepted = await graphql({ schema, source, variableValues: { amount: '12.50' } });
      expect(accepted.errors).toBeUndefined();
      expect(accepted.data).toEqual({ echo: '12.50' });
    });
  });

  describe('parseLiteral (inline values)', () => {
    it('accepts a string literal', () => {
      expect(DecimalScalar.parseLiteral(parseLiteralText('"12.50"'))).toBe('12.50');
      expect(DecimalScalar.parseLiteral({ kind: Kind.STRING, value: ' 7 ' })).toBe('7');
    });

    it('keeps the exact text of a numeric literal, never passing it through a float', () => {
      expect(DecimalScalar.parseLiteral(parseLiteralText('12'))).toBe('12');
      expect(DecimalScalar.parseLiteral(parseLiteralText('0.10'))).toBe('0.10');
      expect(DecimalScalar.parseLiteral(parseLiteralText('9007199254740993'))).toBe('9007199254740993');
    });

    it.each(['1e3', '1.5E2', 'true', 'null', 'USD', '["1"]', '{ amount: "1" }', '"abc"', '""'])('refuses the literal %s with BAD_USER_INPUT', (literal) => {
      expect(thrown(() => DecimalScalar.parseLiteral(parseLiteralText(literal))).extensions.code).toBe('BAD_USER_INPUT');
    });
  });
});

describe('DateTime', () => {
  describe('parseValue', () => {
    it('parses an ISO-8601 instant in UTC', () => {
      const date = DateTimeScalar.parseValue('2026-11-24T10:00:00.000Z');
      expect(date).toBeInstanceOf(Date);
      expect(date.toISOString()).toBe('2026-11-24T10:00:00.000Z');
    });

    it('converts an offset to the same instant in UTC', () => {
      expect(DateTimeScalar.parseValue('2026-11-24T10:00:00+03:30').toISOString()).toBe('2026-11-24T06:30:00.000Z');
      expect(DateTimeScalar.parseValue('2026-11-24T10:00:00-05:00').toISOString()).toBe('2026-11-24T15:00:00.000Z');
    });

    it('accepts an instant without seconds', () => {
      expect(DateTimeScalar.parseValue('2026-11-24T10:00Z').toISOString()).toBe('2026-11-24T10:00:00.000Z');
    });

    it.each([
      '2026-11-24T10:00:00',
      '2026-11-24',
      '2026-13-01T00:00:00Z',
      '2026-11-24T25:00:00Z',
      '24/11/2026 10:00',
      'tomorrow',
      '',
      ' 2026-11-24T10:00:00Z',
      1_764_000_000_000,
      null,
    ])('refuses %j with BAD_USER_INPUT', (value) => {
      expect(thrown(() => DateTimeScalar.parseValue(value)).extensions.code).toBe('BAD_USER_INPUT');
    });

    it('refuses a Date object as a variable value', () => {
      expect(thrown(() => DateTimeScalar.parseValue(new Date())).extensions.code).toBe('BAD_USER_INPUT');
    });

    it.each([
      '2026-02-30T10:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T10:60:00Z',
      '2026-01-01T10:00:00+25:00',
    ])('refuses the impossible instant %s with BAD_USER_INPUT', (value) => {
      expect(thrown(() => DateTimeScalar.parseValue(value)).extensions.code).toBe('BAD_USER_INPUT');
    });

    it('accepts 29 February in a leap year', () => {
      expect((DateTimeScalar.parseValue('2028-02-29T12:00:00Z') as Date).toISOString()).toBe('2028-02-29T12:00:00.000Z');
    });
  });

  describe('parseLiteral', () => {
    it('parses a string literal', () => {
      expect(DateTimeScalar.parseLiteral(parseLiteralText('"2026-11-24T10:00:00Z"')).toISOString()).toBe('2026-11-24T10:00:00.000Z');
    });

    it.each(['1764000000000', 'true', '"yesterday"', '["2026-11-24T10:00:00Z"]'])('refuses the literal %s with BAD_USER_INPUT', (literal) => {
      expect(thrown(() => DateTimeScalar.parseLiteral(parseLiteralText(literal))).extensions.code).toBe('BAD_USER_INPUT');
    });
  });

  describe('serialize', () => {
    it('sends a Date as an ISO-8601 instant in UTC', () => {
      expect(DateTimeScalar.serialize(new Date(Date.UTC(2026, 10, 24, 10, 0, 0)))).toBe('2026-11-24T10:00:00.000Z');
    });

    it('normalises an ISO string with an offset to UTC', () => {
      expect(DateTimeScalar.serialize('2026-11-24T10:00:00+01:00')).toBe('2026-11-24T09:00:00.000Z');
    });

    it.each([1_764_000_000_000, 'not a date', null, {}])('refuses to send %j', (value) => {
      expect(() => DateTimeScalar.serialize(value)).toThrow(GraphQLError);
    });
  });
});
