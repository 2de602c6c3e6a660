// Tests split by kind: unit (*.test.ts, no I/O), integration (*.int.test.ts, against a real
// PostgreSQL) and end-to-end (*.e2e.test.ts, through the real gateway over HTTP); the last two
// share the project `db` and its PostgreSQL.

import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// V8's compile cache for the test workers and every process the tests start (services,
// `pnpm start`, the CLI), which inherit this variable: they load the same modules again and
// again. Kept beside pnpm's own files, never in the system temporary folder.
process.env.NODE_COMPILE_CACHE ??= join(import.meta.dirname, 'node_modules', '.cache', 'node-compile-cache');

const globalSetup = ['packages/testing/src/global-setup.ts'];
const roots = ['gateway', 'subgraphs/*', 'packages/*', 'examples/*', 'scripts', 'bench'].map((root) => `${root}/test/**`);

export default defineConfig({
  test: {
    // Vitest's default is one worker fewer than the cores: one worker on a 2-core machine,
    // which ran every file in turn. Most files wait on sockets, processes and real-time
    // leases, not the CPU, and each has its own database and ports: three at once.
    maxWorkers: 3,
    // Files share their worker's modules (isolate: false): the integration and end-to-end
    // files each import the gateway and every subgraph, and importing them again for every
    // file was about half of the run's CPU; a unit file's imports cost far more than its tests.
    // Their state is their own all the same: each file makes its own database, servers on
    // their own ports and its own keys and closes them in afterAll; spies are restored.
    isolate: false,
    // Test files and the code they import are loaded by Node itself, as `pnpm start` and the
    // images load them (Node strips the types), not transformed by Vite's module runner: no
    // transform pass, one module graph per worker, and the same module resolution as
    // production (graphql's CommonJS build for everyone, one GraphQLError). Nothing here
    // uses vi.mock, which needs the module runner or Node's loader hooks.
    experimental: { viteModuleRunner: false, nodeLoader: false },
    reporters: ['default', './scripts/summary-reporter.ts'],
    // Each project inherits every option above (Vitest 5's default for inline projects).
    projects: [
      {
        test: {
          name: 'unit',
          include: roots.map((root) => `${root}/*.test.ts`),
          exclude: ['**/*.int.test.ts', '**/*.e2e.test.ts', '**/node_modules/**'],
        },
      },
      // Integration and end-to-end files in one project, so one pool of workers: each project
      // has workers (and a module graph) of its own, and every worker imports the stack again,
      // about 4 s of CPU each. `pnpm test:int` and `pnpm test:e2e` pick their files by name.
      {
        test: {
          name: 'db',
          include: roots.flatMap((root) => [`${root}/*.int.test.ts`, `${root}/*.e2e.test.ts`]),
          globalSetup,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
