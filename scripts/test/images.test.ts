// What can be checked of the images without a Docker engine: each Dockerfile installs only
// production dependencies from the lockfile (with the patches it pins), runs the service on Node
// alone (no TypeScript loader) as a non-root user, and copies only files that exist and that
// .dockerignore lets through; docker-compose.yml hands every secret over as a file.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');

const images = [
  { dockerfile: 'gateway/Dockerfile', service: 'gateway', folder: 'gateway' },
  { dockerfile: 'subgraphs/accounts/Dockerfile', service: 'accounts', folder: 'subgraphs/accounts' },
  { dockerfile: 'subgraphs/wallet/Dockerfile', service: 'wallet', folder: 'subgraphs/wallet' },
  { dockerfile: 'subgraphs/gift-cards/Dockerfile', service: 'gift-cards', folder: 'subgraphs/gift-cards' },
];

interface Instruction {
  readonly keyword: string;
  readonly argument: string;
}

/** The instructions of a Dockerfile, continuation lines joined, comments dropped, by stage. */
function stagesOf(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const joined = text.replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [keyword = '', ...rest] = trimmed.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), argument: rest.join(' ') };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

const ignored = read('.dockerignore')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

/** Whether .dockerignore keeps `path` out of the build context (the patterns this repository uses). */
function isIgnored(path: string): boolean {
  return ignored.some((pattern) => {
    const bare = pattern.replace(/^\*\*\//, '');
    const regex = new RegExp(`^(.*/)?${bare.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}(/.*)?$`);
    return pattern.startsWith('**/') ? regex.test(path) : new RegExp(`^${bare.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}(/.*)?$`).test(path);
  });
}

describe.each(images)('$dockerfile', ({ dockerfile, service, folder }) => {
  const stages = stagesOf(read(dockerfile));
  const final = stages.at(-1) ?? [];
  const all = stages.flat();

  it('installs only production dependencies, exactly as the lockfile says', () => {
    const installs = all.filter((step) => step.keyword === 'RUN' && /\bpnpm install\b/.test(step.argument));
    expect(installs).toHaveLength(1);
    expect(installs[0]?.argument).toMatch(/--frozen-lockfile/);
    expect(installs[0]?.argument).toMatch(/--prod\b/);
    expect(installs[0]?.argument).toContain(`--filter @giftpay/${service}...`);
  });

  it('copies the patches the lockfile pins before installing', () => {
    const patched = (JSON.parse(read('package.json')) as { pnpm?: { patchedDependencies?: Record<string, string> } }).pnpm?.patchedDependencies ?? {};
    const copies = all.filter((step) => step.keyword === 'COPY').map((step) => step.argument);
    for (const patch of Object.values(patched)) {
      expect(
        copies.some((copy) =>
          copy
            .split(/\s+/)
            .slice(0, -1)
            .some((source) => patch.startsWith(source.replace(/\/$/, ''))),
        ),
        patch,
      ).toBe(true);
    }
  });

  it('runs the service as a user other than root in its final stage', () => {
    const users = final.filter((step) => step.keyword === 'USER').map((step) => step.argument);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it('starts the service on Node alone, with no TypeScript loader', () => {
    const cmd = final.filter((step) => step.keyword === 'CMD').at(-1);
    const argv = JSON.parse(cmd?.argument ?? 'null') as string[];
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).not.toMatch(/--import|--loader|--require|--experimental-loader|\btsx\b|ts-node/);
    const workdir = final.filter((step) => step.keyword === 'WORKDIR').at(-1)?.argument;
    expect(workdir).toBe(`/app/${folder}`);
    expect(existsSync(`${root}/${folder}/${argv.at(-1)}`)).toBe(true);
    expect(all.some((step) => /\btsx\b|tsconfig/.test(step.argument))).toBe(false);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const sources = all
      .filter((step) => step.keyword === 'COPY' && !step.argument.startsWith('--from'))
      .flatMap((step) => step.argument.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(`${root}/${source}`), source).toBe(true);
      expect(isIgnored(source.replace(/\/$/, '')), source).toBe(false);
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(read('docker-compose.yml')) as {
    services: Record<string, { build?: { dockerfile: string }; environment?: Record<string, string>; secrets?: string[] }>;
    secrets: Record<string, { file: string }>;
  };

  it('builds every service from its Dockerfile', () => {
    for (const { dockerfile, service } of images) expect(compose.services[service]?.build?.dockerfile).toBe(dockerfile);
  });

  it('hands every secret over as a file under /run/secrets, never as a value in the environment', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const environment = service.environment ?? {};
      for (const secret of [
        'DATABASE_URL',
        'JWT_PRIVATE_KEY',
        'INTERNAL_API_TOKEN',
        'GIFT_CARD_CODE_KEY',
        'GATEWAY_TOKEN',
        'BOOTSTRAP_ADMIN_PASSWORD',
        'POSTGRES_PASSWORD',
      ]) {
        expect(environment[secret], `${name} ${secret}`).toBeUndefined();
      }
      for (const [variable, value] of Object.entries(environment).filter(([key]) => key.endsWith('_FILE'))) {
        const secretName = value.replace('/run/secrets/', '');
        expect(service.secrets, `${name} ${variable}`).toContain(secretName);
        expect(compose.secrets[secretName]?.file, secretName).toMatch(/^\.\/docker-secrets\//);
      }
    }
  });

  it('takes only GIFTPAY_* settings, each with a default and in compose.env.example, none of them a variable of pnpm start', () => {
    const text = read('docker-compose.yml');
    const variables = [...text.matchAll(/\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}/g)];
    expect(variables.length).toBeGreaterThan(0);
    const example = read('compose.env.example');
    const developmentVariables = read('.env.example');
    for (const [whole, name, fallback] of variables) {
      expect(fallback, whole).toMatch(/^:-/);
      expect(name).toMatch(/^GIFTPAY_/);
      expect(developmentVariables, `${name} in .env.example`).not.toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      expect(example, `${name} in compose.env.example`).toMatch(new RegExp(`^${name}=`, 'm'));
    }
    expect(read('.gitignore')).toMatch(/^compose\.env$/m);
    expect(read('.gitignore')).toMatch(/^docker-secrets\/$/m);
  });
});
