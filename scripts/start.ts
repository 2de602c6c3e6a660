// `pnpm start`: the whole stack on one machine. Starts an embedded PostgreSQL when
// DATABASE_URL is unset (data under DATA_DIR, kept across restarts), then every subgraph
// and the gateway as processes of their own with prefixed, readable logs; prints the
// gateway URL once /health says everything is ready; Ctrl-C or SIGTERM stops it all.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EmbeddedPostgresError, type RunningPostgres, startEmbeddedPostgres } from '@giftpay/embedded-db';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const startedAt = performance.now();

if (existsSync(resolve(root, '.env'))) process.loadEnvFile(resolve(root, '.env'));

const env = process.env;
const dataDir = resolve(root, env.DATA_DIR?.trim() || '.data');

/** A whole number from the environment within a range, refused with one line naming the variable. */
function wholeNumberOf(name: string, fallback: number, min: number, max: number, what: string): number {
  const value = env[name]?.trim() || String(fallback);
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    console.error(`Invalid configuration: ${name} must be ${what} from ${min} to ${max}, got "${value}"`);
    process.exit(1);
  }
  return number;
}

/** A port (0 cannot be found by the others). */
const portOf = (name: string, fallback: number): number => wholeNumberOf(name, fallback, 1, 65535, 'a port');
const secondsOf = (name: string, fallback: number, min: number, max: number): number => wholeNumberOf(name, fallback, min, max, 'whole seconds');

const gatewayPort = portOf('GATEWAY_PORT', 4000);
const readyTimeoutSeconds = secondsOf('START_READY_TIMEOUT_SECONDS', 120, 5, 3600);
const stopGraceSeconds = secondsOf('STOP_GRACE_SECONDS', 15, 1, 600);
/**
 * Where this machine reaches the services: HOST, the address they listen on (127.0.0.1 unless
 * set), or loopback when that is every interface; an IPv6 address in brackets, as URLs write it.
 */
const localHost = ((host: string) => {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
})(env.HOST?.trim() || '127.0.0.1');
const tty = process.stdout.isTTY;
const COLORS: Record<string, string> = { postgres: '90', accounts: '36', wallet: '33', 'gift-cards': '35', gateway: '32', start: '1' };
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function prefix(name: string): string {
  const label = `[${name}]`.padEnd(13);
  return tty ? `\u001b[${COLORS[name] ?? '0'}m${label}\u001b[0m` : label;
}

function say(message: string): void {
  console.log(`${prefix('start')} ${message}`);
}

/** Turns a pino JSON line into `HH:MM:SS LEVEL message key=value…`; other lines pass as they are. */
function readable(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { time, level, msg, service: _service, name: _name, pid: _pid, hostname: _hostname, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const clock = typeof time === 'string' ? time.slice(11, 19) : '';
    const extra = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    return `${clock} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${extra ? ` ${extra}` : ''}`;
  } catch {
    return line;
  }
}

const services = [
  { name: 'accounts', entry: 'subgraphs/accounts/src/main.ts' },
  { name: 'wallet', entry: 'subgraphs/wallet/src/main.ts' },
  { name: 'gift-cards', entry: 'subgraphs/gift-cards/src/main.ts' },
  { name: 'gateway', entry: 'gateway/src/main.ts' },
];

const children = new Map<string, ChildProcess>();
let database: RunningPostgres | null = null;
let stopping = false;

let stopped: Promise<never> | null = null;

/**
 * Stops every service, then the embedded PostgreSQL, then exits. Called again while stopping
 * (a second signal: under `pnpm start`, Ctrl-C reaches this process from the terminal and
 * once more from pnpm, which forwards it), it waits for the same stop instead of exiting early.
 */
function stopAll(exitCode: number): Promise<never> {
  stopped ??= (async (): Promise<never> => {
    stopping = true;
    say('stopping…');
    const exits = [...children.values()].map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), stopGraceSeconds * 1000).unref();
        }),
    );
    await Promise.all(exits);
    if (database) {
      await database.stop().catch(() => {});
      say('embedded PostgreSQL stopped');
    }
    say('stopped');
    process.exit(exitCode);
  })();
  return stopped;
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

async function waitForHealth(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 200));
  }
  return false;
}

/** What to do about a failed start, in this script's variables; one line with the problem. */
function embeddedPostgresFix(error: unknown, port: number): string {
  const own = 'or set DATABASE_URL to use your own PostgreSQL';
  if (!(error instanceof EmbeddedPostgresError)) {
    // A failure on the data folder (a file in its way, a read-only disk) is fixed by choosing another.
    const path = (error as NodeJS.ErrnoException).path;
    const onDataDir = path !== undefined && [relative(dataDir, resolve(path)), relative(resolve(path), dataDir)].some((way) => !way.startsWith('..'));
    const fix = onDataDir ? `set DATA_DIR to another folder (now ${dataDir}), ${own}` : 'set DATABASE_URL to use your own PostgreSQL';
    return `${oneLine((error as Error).message)}; ${fix}`;
  }
  switch (error.code) {
    case 'PORT_IN_USE':
      return `${error.problem}; set EMBEDDED_POSTGRES_PORT to a free port (now ${port}), ${own}`;
    case 'DATA_DIR_UNREACHABLE':
      // As root, PostgreSQL runs as the postgres user; otherwise as the user running this script.
      return process.getuid?.() === 0
        ? `${error.problem}; set DATA_DIR to a folder the postgres user can reach (e.g. DATA_DIR=/var/lib/giftpay/dev), ${own}`
        : `${error.problem}; set DATA_DIR to a folder you may write to (now ${dataDir}), or ${error.fix}, ${own}`;
    default:
      return `${error.problem}; ${error.fix}, ${own}`;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

let databaseUrl = env.DATABASE_URL?.trim();
// DATABASE_URL may come from a file (DATABASE_URL_FILE, a mounted secret): the services read it
// themselves (packages/common/src/secret-files.ts), so no embedded PostgreSQL then, and no
// DATABASE_URL passed on beside it (both set stops a service, naming them).
const databaseUrlFile = env.DATABASE_URL_FILE?.trim();
if (!databaseUrl && databaseUrlFile) say(`DATABASE_URL comes from ${databaseUrlFile} (DATABASE_URL_FILE): the services read it`);
if (!databaseUrl && !databaseUrlFile) {
  const postgresPort = portOf('EMBEDDED_POSTGRES_PORT', 5433);
  const requestedDir = resolve(dataDir, 'postgres');
  say(`DATABASE_URL is not set: starting the embedded PostgreSQL on 127.0.0.1:${postgresPort}`);
  try {
    database = await startEmbeddedPostgres({
      dataDir: requestedDir,
      port: postgresPort,
      onLog: (message) => {
        for (const line of message.split('\n')) if (/ERROR|FATAL|PANIC/.test(line)) console.log(`${prefix('postgres')} ${line}`);
      },
      onNotice: say,
    });
    await database.ensureDatabase('giftpay');
    // As root, when the postgres user cannot reach DATA_DIR, the cluster is elsewhere (said above, linked from DATA_DIR).
    say(`embedded PostgreSQL is up with its data in ${database.dataDir}`);
  } catch (error) {
    say(`could not start the embedded PostgreSQL: ${embeddedPostgresFix(error, postgresPort)}`);
    await stopAll(1);
  }
  databaseUrl = database?.urlFor('giftpay') ?? '';
}

// Services find each other on this machine: derive their URLs from the ports unless given, at
// the address they listen on (HOST): loopback when they listen on every interface.
const serviceUrls = {
  ACCOUNTS_URL: env.ACCOUNTS_URL?.trim() || `http://${localHost}:${portOf('ACCOUNTS_PORT', 4001)}`,
  WALLET_URL: env.WALLET_URL?.trim() || `http://${localHost}:${portOf('WALLET_PORT', 4002)}`,
  GIFT_CARDS_URL: env.GIFT_CARDS_URL?.trim() || `http://${localHost}:${portOf('GIFT_CARDS_PORT', 4003)}`,
};

// CPU_PROFILE_DIR: every service writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
const profileDir = env.CPU_PROFILE_DIR?.trim();
const profileFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(root, profileDir)}`] : [];

/** Set when accounts has just created the development admin: shown once the stack is ready. */
let developmentAdmin: { username: string; passwordFile: string } | null = null;
let ready = false;

/** accounts logs `event: development-admin-created` (with the file, never the password) when it creates that admin. */
function noticeDevelopmentAdmin(line: string): void {
  if (!line.includes('"development-admin-created"')) return;
  try {
    const { username, passwordFile } = JSON.parse(line) as { username?: unknown; passwordFile?: unknown };
    if (typeof username !== 'string' || typeof passwordFile !== 'string') return;
    developmentAdmin = { username, passwordFile };
    if (ready) announceDevelopmentAdmin();
  } catch {
    // not a log line of ours
  }
}

/** The one time the generated password is shown: the run that created the admin. */
function announceDevelopmentAdmin(): void {
  if (!developmentAdmin) return;
  const { username, passwordFile } = developmentAdmin;
  developmentAdmin = null;
  let password: string;
  try {
    password = readFileSync(passwordFile, 'utf8').trim();
  } catch {
    return;
  }
  const shown = relative(root, passwordFile).startsWith('..') ? passwordFile : relative(root, passwordFile);
  say('created a development admin (its password is printed only this once):');
  say(`  username  ${username}`);
  say(`  password  ${password}`);
  say(`  kept in   ${shown}`);
  say('log in as that admin (logIn) to issue gift cards; set BOOTSTRAP_ADMIN_USERNAME and BOOTSTRAP_ADMIN_PASSWORD to choose your own');
}

/** After this many exits in a row, each within FAST_EXIT_MS of its start, the stack gives up. */
const MAX_FAST_EXITS = 5;
const FAST_EXIT_MS = 10_000;
/** runService's exit code for a configuration error: restarting cannot help. */
const EXIT_CONFIG = 78;
const fastExits = new Map<string, number>();

/**
 * Starts one service and keeps it running: when it exits (a crash, an OOM kill, a bug), it is
 * started again after a back-off that doubles from 0.5 s to 10 s, and the rest of the stack
 * goes on serving. It gives up, stopping everything, on a configuration error or when the
 * service keeps failing right after its start.
 */
function startService(service: (typeof services)[number]): void {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [...profileFlags, service.entry], {
    cwd: root,
    env: { ...env, ...serviceUrls, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), DATA_DIR: dataDir, GIFTPAY_SUPERVISOR_PID: String(process.pid) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.set(service.name, child);
  say(`${service.name} started (pid ${child.pid})`);
  let configProblem = '';
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      console.log(`${prefix(service.name)} ${readable(line)}`);
      // runService prints `<name>: Invalid configuration: <VARIABLE> <rule>` before exiting 78.
      const invalid = /Invalid configuration: (.*)$/.exec(line);
      if (invalid?.[1]) configProblem = invalid[1];
      noticeDevelopmentAdmin(line);
    });
  }
  child.on('exit', (code, signal) => {
    if (stopping) return;
    const how = signal ?? `code ${code}`;
    if (code === EXIT_CONFIG) {
      // Said once its output is read to the end ('close' follows 'exit'), so the line is known.
      child.once('close', () => {
        if (stopping) return;
        say(`${service.name} exited (${how}): its configuration is invalid (${configProblem || 'see above'}); stopping the stack`);
        void stopAll(1);
      });
      return;
    }
    const fast = Date.now() - startedAt < FAST_EXIT_MS ? (fastExits.get(service.name) ?? 0) + 1 : 0;
    fastExits.set(service.name, fast);
    if (fast >= MAX_FAST_EXITS) {
      say(`${service.name} exited (${how}) ${fast} times in a row right after starting; stopping the stack`);
      void stopAll(1);
      return;
    }
    const delayMs = Math.min(500 * 2 ** fast, 10_000);
    say(`${service.name} exited (${how}); restarting it in ${(delayMs / 1000).toFixed(1)} s`);
    setTimeout(() => {
      if (!stopping) startService(service);
    }, delayMs);
  });
}

for (const service of services) startService(service);

const healthUrl = `http://${localHost}:${gatewayPort}/health`;
if (await waitForHealth(healthUrl, readyTimeoutSeconds * 1000)) {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  say(
    `GiftPay is ready in ${seconds} s: GraphQL at http://${localHost === '127.0.0.1' ? 'localhost' : localHost}:${gatewayPort}/graphql (Ctrl-C stops everything)`,
  );
  ready = true;
  announceDevelopmentAdmin();
} else if (!stopping) {
  say(`the gateway did not become healthy at ${healthUrl} within ${readyTimeoutSeconds} s (START_READY_TIMEOUT_SECONDS)`);
  await stopAll(1);
}
