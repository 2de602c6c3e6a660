// The admin CLI (`pnpm giftpay`, packages/cli) run as a real child process with `node`, as a
// user runs it: its config folder (XDG_CONFIG_HOME) a temporary one of the test's own, none of
// the test runner's GIFTPAY_* variables, and its output collected; or started and watched while
// it runs (a promotion filling up, a Ctrl-C in the middle of a batch).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_MAIN = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));

export interface CliResult {
  /** The exit code; null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** XDG_CONFIG_HOME for the run: where the session is kept. */
  readonly configHome: string;
  readonly env?: Record<string, string>;
  /** Written to stdin, which is then closed (stdin is never a terminal here). */
  readonly input?: string;
  readonly cwd?: string;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything printed so far. */
  readonly output: { readonly stdout: string; readonly stderr: string };
  /** Resolves when stdout (or stderr) matches, rejects if the process ends first or after `timeoutMs`. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<void>;
  readonly exited: Promise<CliResult>;
}

function cliEnv(options: CliOptions): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('GIFTPAY_') && name !== 'INIT_CWD' && name !== 'npm_lifecycle_event'),
  );
  return { ...inherited, XDG_CONFIG_HOME: options.configHome, ...options.env };
}

/** Starts `node packages/cli/src/main.ts ...args`. */
export function startCli(args: readonly string[], options: CliOptions): RunningCli {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: cliEnv(options), cwd: options.cwd ?? tmpdir(), stdio: ['pipe', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
    for (const listener of listeners) listener();
  });
  child.stdin?.end(options.input ?? '');
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const listener of listeners) listener();
      resolve({ code, signal, ...output });
    });
  });
  let ended = false;
  void exited.finally(() => {
    ended = true;
  });
  return {
    child,
    output,
    exited,
    waitFor(pattern, stream = 'stdout', timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(output[stream])) done(resolve);
          else if (ended || child.exitCode !== null || child.signalCode !== null) {
            done(() => reject(new Error(`the CLI ended before ${stream} matched ${pattern}:\n${output.stdout}\n${output.stderr}`)));
          }
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${stream} did not match ${pattern} in ${timeoutMs} ms:\n${output[stream]}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs the CLI to its end; killed after `timeoutMs` so a hung command fails its test. */
export async function runCli(args: readonly string[], options: CliOptions, timeoutMs = 90_000): Promise<CliResult> {
  const running = startCli(args, options);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  try {
    return await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh XDG_CONFIG_HOME; `remove` deletes it. */
export function tempConfigHome(): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'giftpay-cli-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
