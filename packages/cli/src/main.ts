#!/usr/bin/env node
// `pnpm giftpay`: GiftPay's admin command line. Arguments are parsed with node:util's
// parseArgs (strict: an unknown option or a missing value is a usage error, exit 2); the
// command runs against the gateway with the session `giftpay login` saved; errors are
// printed on stderr (GraphQL errors with their extensions.code) with exit 1, Ctrl-C is 130.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { type Command, GLOBAL_DETAILS, GLOBAL_OPTIONS, type OptionValues } from './command.ts';
import { cardsDisable, cardsEnable, cardsList } from './commands/cards.ts';
import { issue } from './commands/issue.ts';
import { login, logout } from './commands/login.ts';
import { promotionWatch } from './commands/promotion.ts';
import { reconcile } from './commands/reconcile.ts';
import { ApiError, EXIT_API, EXIT_INTERRUPTED, EXIT_USAGE, LoginRequiredError, UsageError } from './errors.ts';

export const COMMANDS: readonly Command[] = [login, logout, issue, cardsList, cardsDisable, cardsEnable, promotionWatch, reconcile];

const NAME = 'giftpay';

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.words.join(' ').length));
  return `${NAME}: GiftPay's admin command line, a client of the gateway's GraphQL API.

Usage: pnpm ${NAME} <command> [options]

Commands:
${COMMANDS.map((command) => `  ${command.words.join(' ').padEnd(width)}  ${command.summary}`).join('\n')}
  help COMMAND${' '.repeat(Math.max(0, width - 12))}  a command's options

Options of every command:
${GLOBAL_DETAILS}

Start with \`pnpm ${NAME} login\`. Exit codes: 0 done, 1 the API refused or could not be
reached (or no login), 2 a wrong command line, 130 interrupted. See docs/cli.md.
`;
}

function commandHelp(command: Command): string {
  return `Usage: pnpm ${NAME} ${command.synopsis}

${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.
${command.details ? `\n${command.details}\n` : ''}
Options of every command:
${GLOBAL_DETAILS}
`;
}

function groupHelp(group: string): string {
  const members = COMMANDS.filter((command) => command.words[0] === group);
  return `Usage: pnpm ${NAME} ${group} <${members.map((command) => command.words[1]).join('|')}> ...\n\n${members
    .map((command) => `  ${NAME} ${command.synopsis}\n      ${command.summary}`)
    .join('\n')}\n`;
}

/** Every option any command knows, to find the command's words before its own strict parse. */
const ALL_OPTIONS: ParseArgsOptionsConfig = Object.assign({}, GLOBAL_OPTIONS, ...COMMANDS.map((command) => command.options));

type Parsed = { kind: 'help'; text: string; exitCode: number } | { kind: 'run'; command: Command; values: OptionValues; operands: string[] };

export function parseCommandLine(args: readonly string[]): Parsed {
  const loose = parseArgs({ args: [...args], options: ALL_OPTIONS, allowPositionals: true, strict: false });
  const words = loose.positionals;
  if (words[0] === 'help') {
    const topic = COMMANDS.find((command) => command.words.every((word, index) => words[index + 1] === word));
    if (topic) return { kind: 'help', text: commandHelp(topic), exitCode: 0 };
    if (words[1] && COMMANDS.some((command) => command.words[0] === words[1])) return { kind: 'help', text: groupHelp(words[1]), exitCode: 0 };
    return { kind: 'help', text: generalHelp(), exitCode: words[1] ? EXIT_USAGE : 0 };
  }
  const command = COMMANDS.find((candidate) => candidate.words.every((word, index) => words[index] === word));
  if (!command) {
    if (words[0] && COMMANDS.some((candidate) => candidate.words[0] === words[0])) {
      const wanted = loose.values.help === true && words.length === 1;
      if (!wanted) {
        const problem = words.length === 1 ? `\`${words[0]}\` needs a subcommand.` : `\`${words.join(' ')}\` is not a command.`;
        throw new UsageError(`${problem}\n${groupHelp(words[0])}`);
      }
      return { kind: 'help', text: groupHelp(words[0]), exitCode: 0 };
    }
    if (words.length === 0) return { kind: 'help', text: generalHelp(), exitCode: loose.values.help === true ? 0 : EXIT_USAGE };
    throw new UsageError(`Unknown command \`${words[0]}\`. Run \`pnpm ${NAME} --help\` for the commands.`);
  }
  if (loose.values.help === true) return { kind: 'help', text: commandHelp(command), exitCode: 0 };
  let strict: { values: OptionValues; positionals: string[] };
  try {
    strict = parseArgs({ args: [...args], options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true }) as typeof strict;
  } catch (error) {
    const message = ((error as Error).message.split('\n')[0] ?? '').split('. To specify a positional')[0];
    throw new UsageError(`${message}.\nUsage: pnpm ${NAME} ${command.synopsis}`.replace('..\n', '.\n'));
  }
  const operands = strict.positionals.slice(command.words.length);
  if (operands.length < command.operands.min || operands.length > command.operands.max) {
    const expected = command.operands.max === 0 ? 'no arguments' : command.operands.names;
    throw new UsageError(
      `\`${command.words.join(' ')}\` takes ${expected}, got ${operands.length === 0 ? 'none' : operands.join(' ')}.\nUsage: pnpm ${NAME} ${command.synopsis}`,
    );
  }
  return { kind: 'run', command, values: strict.values, operands };
}

function report(error: unknown): number {
  const hint = (error as { hint?: string } | null)?.hint;
  const withHint = (code: number) => {
    if (hint) process.stderr.write(`${hint}\n`);
    return code;
  };
  if (error instanceof UsageError) {
    process.stderr.write(`usage error: ${error.message}\n`);
    return withHint(EXIT_USAGE);
  }
  if (error instanceof ApiError) {
    for (const entry of error.errors) {
      const code = typeof entry.extensions?.code === 'string' ? entry.extensions.code : 'ERROR';
      const retry = entry.extensions?.retryAfterSeconds;
      process.stderr.write(`error: ${code}: ${entry.message}${typeof retry === 'number' ? ` (try again in ${retry} s)` : ''}\n`);
    }
    if (error.codes.includes('UNAUTHENTICATED')) process.stderr.write('The session is no longer valid: run `pnpm giftpay login`.\n');
    if (error.codes.includes('FORBIDDEN')) process.stderr.write('This needs an admin account: log in as one with `pnpm giftpay login`.\n');
    return withHint(EXIT_API);
  }
  if (error instanceof LoginRequiredError || (error instanceof Error && 'exitCode' in error)) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return withHint((error as { exitCode: number }).exitCode);
  }
  throw error;
}

export async function main(args: readonly string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseCommandLine(args);
  } catch (error) {
    return report(error);
  }
  if (parsed.kind === 'help') {
    (parsed.exitCode === 0 ? process.stdout : process.stderr).write(parsed.text);
    return parsed.exitCode;
  }
  const { command } = parsed;
  const interrupt = new AbortController();
  const onSigint = () => {
    if (!command.graceful || interrupt.signal.aborted) {
      process.stderr.write(command === issue ? '\nQuit at once: the batch in flight may have been issued, and its codes are lost.\n' : '\nInterrupted.\n');
      process.exit(EXIT_INTERRUPTED);
    }
    if (command === issue) process.stderr.write('\nStopping after the batch in flight (its codes will be written). Ctrl-C again to quit at once.\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await command.run({ values: parsed.values, operands: parsed.operands, env: process.env, interrupt: interrupt.signal });
  } catch (error) {
    return report(error);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
