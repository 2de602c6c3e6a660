// The CLI's command line and output formats, without a process or a network: which command a
// command line names, which lines are usage errors (exit 2), the issue plan's rules, the
// progress bar, CSV quoting and the table.

import { describe, expect, it } from 'vitest';
import { planIssue } from '../src/commands/issue.ts';
import { describeCount } from '../src/commands/promotion.ts';
import { UsageError } from '../src/errors.ts';
import { parseCommandLine } from '../src/main.ts';
import { csvField, csvLine, progressBar, table } from '../src/terminal.ts';

const usageErrorOf = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error('no usage error');
};

describe('parseCommandLine', () => {
  it('finds a two-word command, its options and its operand, with global options anywhere', () => {
    const parsed = parseCommandLine(['--url', 'http://gw/graphql', 'cards', 'disable', 'abc']);
    expect(parsed).toMatchObject({ kind: 'run', command: { words: ['cards', 'disable'] }, operands: ['abc'], values: { url: 'http://gw/graphql' } });
  });

  it('answers --help, `help COMMAND` and a bare group with help, exit 0, and no arguments with the general help, exit 2', () => {
    expect(parseCommandLine(['--help'])).toMatchObject({ kind: 'help', exitCode: 0, text: expect.stringContaining('promotion watch') });
    expect(parseCommandLine(['issue', '-h'])).toMatchObject({ kind: 'help', exitCode: 0, text: expect.stringContaining('--usage-limit N') });
    expect(parseCommandLine(['help', 'cards', 'list'])).toMatchObject({ kind: 'help', exitCode: 0, text: expect.stringContaining('--status') });
    expect(parseCommandLine(['cards', '--help'])).toMatchObject({ kind: 'help', exitCode: 0, text: expect.stringContaining('cards disable ID') });
    expect(parseCommandLine([])).toMatchObject({ kind: 'help', exitCode: 2 });
  });

  it('refuses unknown commands and options, missing values and operands as usage errors', () => {
    expect(usageErrorOf(() => parseCommandLine(['refund']))).toContain('Unknown command `refund`');
    expect(usageErrorOf(() => parseCommandLine(['cards']))).toContain('`cards` needs a subcommand');
    expect(usageErrorOf(() => parseCommandLine(['cards', 'burn']))).toContain('`cards burn` is not a command');
    expect(usageErrorOf(() => parseCommandLine(['issue', '--bogus']))).toContain("Unknown option '--bogus'");
    expect(usageErrorOf(() => parseCommandLine(['issue', '--count']))).toContain("'--count <value>' argument missing");
    expect(usageErrorOf(() => parseCommandLine(['cards', 'disable']))).toContain('`cards disable` takes ID, got none');
    expect(usageErrorOf(() => parseCommandLine(['cards', 'disable', 'a', 'b']))).toContain('got a b');
    expect(usageErrorOf(() => parseCommandLine(['login', 'now']))).toContain('`login` takes no arguments');
    // An option another command knows is still unknown to this one.
    expect(usageErrorOf(() => parseCommandLine(['cards', 'list', '--count', '3']))).toContain("Unknown option '--count'");
  });
});

describe('planIssue', () => {
  const base = { value: '1000000', currency: 'irr', out: '/tmp/cards.csv' };

  it('plans batches of 1000 by default, in capitals, with the expiry as an ISO instant', () => {
    expect(planIssue({ ...base, count: '5000', expires: '2030-01-01' }, {})).toEqual({
      amount: '1000000',
      currency: 'IRR',
      count: 5000,
      usageLimit: 1,
      code: undefined,
      expiresAt: '2030-01-01T00:00:00.000Z',
      batchSize: 1000,
      out: '/tmp/cards.csv',
      force: false,
    });
  });

  it('resolves a relative --out where the user ran `pnpm giftpay`, not in the repository root pnpm runs it in', () => {
    expect(planIssue({ ...base, out: 'cards.csv' }, { npm_lifecycle_event: 'giftpay', INIT_CWD: '/home/ops' }).out).toBe('/home/ops/cards.csv');
    expect(planIssue({ ...base, out: '-' }, {}).out).toBe('-');
  });

  it('refuses what the API would refuse or what cannot be meant, naming the option', () => {
    const cases: [Record<string, string>, string][] = [
      [{ value: '' }, '--value is required'],
      [{ value: '12,50' }, '--value must be a decimal amount'],
      [{ currency: 'rial' }, '--currency must be a three-letter'],
      [{ count: '0' }, '--count must be a whole number from 1'],
      [{ count: '2.5' }, '--count must be a whole number'],
      [{ 'usage-limit': '-1' }, '--usage-limit must be a whole number from 1'],
      [{ count: '2', code: 'SPRING' }, '--code issues one promotion'],
      [{ expires: 'tomorrow' }, '--expires must be an ISO-8601'],
      [{ 'batch-size': '10001' }, '--batch-size must be a whole number from 1 to 10000'],
      [{ out: '' }, '--out is required'],
    ];
    for (const [values, message] of cases) expect(usageErrorOf(() => planIssue({ ...base, ...values }, {}))).toContain(message);
  });
});

describe('output', () => {
  it('draws a progress bar that fills with the count, in the width it is given', () => {
    expect(progressBar(0, 5000, 40)).toBe(`[${' '.repeat(26)}]   0% 0/5000`);
    expect(progressBar(2500, 5000, 40)).toBe(`[${'='.repeat(11)}>${' '.repeat(11)}]  50% 2500/5000`);
    expect(progressBar(5000, 5000, 40)).toBe(`[${'='.repeat(23)}] 100% 5000/5000`);
    for (const done of [0, 1, 2500, 4999, 5000]) expect(progressBar(done, 5000, 40)).toHaveLength(40);
  });

  it('quotes CSV fields that hold a comma, a quote or a line break, and nothing else', () => {
    expect(csvField('7K2QF-9XW3M')).toBe('7K2QF-9XW3M');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvLine(['x', null, 3])).toBe('x,,3\n');
  });

  it('pads table columns to the widest cell', () => {
    expect(
      table(
        ['ID', 'STATUS'],
        [
          ['a', 'ACTIVE'],
          ['bbbb', 'USED_UP'],
        ],
      ),
    ).toBe('ID    STATUS\na     ACTIVE\nbbbb  USED_UP\n');
  });

  it('describes a promotion count as taken of all slots, with the percentage rounded down', () => {
    expect(describeCount({ redemptionCount: 2, usageLimit: 3, status: 'ACTIVE' })).toBe('2/3 redeemed (66%), ACTIVE');
  });
});
