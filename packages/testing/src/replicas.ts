// Services as processes of their own, several replicas of one behind a real load balancer
// (HAProxy, Debian's package), for the tests of what survives when a replica dies.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@giftpay/embedded-db';

export { freePort };

const root = fileURLToPath(new URL('../../..', import.meta.url));

export type SubgraphName = 'accounts' | 'wallet' | 'gift-cards';

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Everything it printed so far. */
  output(): string;
  readonly exited: Promise<number | null>;
  /** Ends it at once, as a crash or an OOM kill would. */
  kill(): Promise<void>;
  /** Stops it the orderly way. */
  stop(): Promise<void>;
}

const PORT_VARIABLE: Record<SubgraphName, string> = { accounts: 'ACCOUNTS_PORT', wallet: 'WALLET_PORT', 'gift-cards': 'GIFT_CARDS_PORT' };

/** Starts `subgraphs/<name>/src/main.ts` as a process on a free port and waits until it listens. */
export async function startServiceProcess(
  name: SubgraphName,
  env: Record<string, string | undefined>,
  options: { label?: string; port?: number } = {},
): Promise<ServiceProcess> {
  const label = options.label ?? name;
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [`subgraphs/${name}/src/main.ts`], {
    cwd: root,
    env: { ...process.env, ...env, LOG_LEVEL: 'info', [PORT_VARIABLE[name]]: String(port) } as Record<string, string>,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await new Promise<void>((ready, fail) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`"${name} listening"`)) ready();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => fail(new Error(`${label} exited with ${code} before it listened:\n${output}`)));
  });
  const signal = async (which: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(which);
    await exited;
  };
  return {
    name: label,
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}

/**
 * HAProxy comes from Debian's package. On a fresh machine where it is missing, root installs it
 * (so the README's one test command passes there); anyone else is told what to install.
 */
export function ensureHaproxy(): void {
  const found = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (found.status === 0) return;
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    console.info('haproxy is missing: installing the Debian package haproxy for the replica tests');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const installed = spawnSync('apt-get', ['install', '-y', '-qq', 'haproxy'], { stdio: 'inherit', env });
    if (installed.status === 0) return;
  }
  throw new Error('These tests need HAProxy: install the Debian package haproxy (apt-get install haproxy).');
}

export interface LoadBalancer {
  /** The balanced URL of each service, by name. */
  readonly urls: Record<string, string>;
  readonly process: ChildProcess;
  /** Waits until every frontend answers a health check through a live replica. */
  serving(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts HAProxy with one frontend per service, balancing round-robin over its replicas. A
 * replica is taken out after two failed health checks (GET /health every 300 ms); a request
 * whose connection is refused is sent to another replica (retry-on conn-failure, which is
 * safe: nothing reached the dead one). A request in flight on a replica that dies is not
 * retried (the service may have done it): the caller gets 502.
 */
export async function startLoadBalancer(backends: Record<string, readonly { url: string }[]>): Promise<LoadBalancer> {
  // The replicas may not be up yet (they need the balanced URLs to start): HAProxy marks them
  // down until their health checks pass; call serving() before sending traffic.
  const folder = await mkdtemp(join(tmpdir(), 'giftpay-haproxy-'));
  const urls: Record<string, string> = {};
  const sections: string[] = [];
  for (const [name, replicas] of Object.entries(backends)) {
    const port = await freePort();
    urls[name] = `http://127.0.0.1:${port}`;
    const id = name.replace(/[^a-z0-9]/gi, '_');
    sections.push(
      `frontend fe_${id}`,
      `  bind 127.0.0.1:${port}`,
      `  default_backend be_${id}`,
      `backend be_${id}`,
      '  balance roundrobin',
      '  option httpchk GET /health',
      '  default-server inter 300ms fall 2 rise 1',
      ...replicas.map((replica, index) => `  server ${id}_${index + 1} ${new URL(replica.url).host} check`),
    );
  }
  const config = [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  retries 3',
    '  option redispatch',
    '  retry-on conn-failure',
    ...sections,
    '',
  ].join('\n');
  const file = join(folder, 'haproxy.cfg');
  await writeFile(file, config);
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const serving = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (const url of Object.values(urls)) {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${output}`);
        const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(
          (response) => response.status === 200,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`haproxy did not serve ${url} within ${timeoutMs} ms:\n${output}`);
        await new Promise((done) => setTimeout(done, 100));
      }
    }
  };
  return {
    urls,
    process: child,
    serving,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(folder, { recursive: true, force: true });
    },
  };
}
