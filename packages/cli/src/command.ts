// What a command is (its words, help and options for node:util's parseArgs) and the small
// parsers of option values every command shares.

import type { ParseArgsOptionsConfig } from 'node:util';
import { createClient, type GraphQLClient } from './client.ts';
import { DEFAULT_URL, requireSession } from './credentials.ts';
import { UsageError } from './errors.ts';

export type OptionValues = Record<string, string | boolean | undefined>;

export interface CommandContext {
  readonly values: OptionValues;
  /** The positionals after the command's own words. */
  readonly operands: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Set when the user presses Ctrl-C; a long command stops at its next safe point. */
  readonly interrupt: AbortSignal;
}

export interface Command {
  /** e.g. ['cards', 'list'] */
  readonly words: readonly string[];
  readonly summary: string;
  /** The synopsis after `giftpay`, e.g. `cards disable ID`. */
  readonly synopsis: string;
  /** The options and what they do, one a line; printed under the synopsis. */
  readonly details: string;
  readonly options: ParseArgsOptionsConfig;
  /** How many operands it takes. */
  readonly operands: { readonly min: number; readonly max: number; readonly names: string };
  /** Ctrl-C aborts `interrupt` for the command to stop at a safe point; otherwise it ends the process at once. */
  readonly graceful?: boolean;
  run(context: CommandContext): Promise<number>;
}

export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export const GLOBAL_DETAILS = `  --url URL        the gateway's GraphQL endpoint (env GIFTPAY_URL; default: the one logged in to, else ${DEFAULT_URL})
  -h, --help       this help`;

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A whole number from `min` to `max`, or a UsageError naming the option. */
export function integerOption(values: OptionValues, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = stringOption(values, name);
  if (text === undefined) return fallback;
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}".`);
  }
  return value;
}

/** A decimal number of seconds, at least `min`. */
export function secondsOption(values: OptionValues, name: string, fallback: number, min: number): number {
  const text = stringOption(values, name);
  if (text === undefined) return fallback;
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(value >= min)) throw new UsageError(`--${name} must be a number of seconds, at least ${min}, got "${text}".`);
  return value;
}

/** The endpoint asked for on the command line or in GIFTPAY_URL, if any. */
export function requestedUrl(context: Pick<CommandContext, 'values' | 'env'>): string | undefined {
  const url = stringOption(context.values, 'url') ?? (context.env.GIFTPAY_URL?.trim() || undefined);
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL}, got "${url}".`);
  }
  return url;
}

/** A client with the saved session's token, for the commands that need a login. */
export function sessionClient(context: Pick<CommandContext, 'values' | 'env'>): GraphQLClient {
  const session = requireSession(context.env, requestedUrl(context));
  return createClient(session.url, session.token);
}
