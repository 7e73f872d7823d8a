/**
 * Tests run inside workerd against the real local stack started by global-setup.ts (once, for both
 * projects below). Most files run three at a time: they create their own tenants, and the machine
 * spends most of their time waiting on I/O and timers. The files in SERIAL run one at a time after
 * them: they pause the fault region's PostgreSQL, read the Neon API stand-in's request log (which
 * every Neon-backed test writes to), time a flood against a rate limiter, or hold the alert rules' lease.
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import type { Stack } from './support/stack-types.js';

const SERIAL = [
  'test/breaker/faults.test.ts',
  'test/control/provision-wait.test.ts',
  'test/provisioning/neon-provisioner.test.ts',
  'test/control/neon-provisioner.test.ts',
  // Gives its database tenant's Neon project clusters of their own (test/harness/neon-compute.ts): kept off the busy parallel run.
  'test/branches/branches.test.ts',
  'test/branches/blue-green.test.ts',
  'test/quota/leasing.test.ts',
  // Runs the alert rules at simulated times under the rules' one lease: a maintenance run another
  // file starts (/__scheduled) would hold that lease.
  'test/alerts/alerts.test.ts',
];

const workerd = (name: string, files: { include: string[]; exclude: string[] }, parallel: boolean): TestProjectInlineConfiguration => ({
  plugins: [
    cloudflareTest(({ inject }) => {
      const stack = inject('stack') as Stack;
      return {
        main: './workers/router/index.ts',
        wrangler: { configPath: './wrangler.toml' },
        // BACKUPS: the in-process control plane's backup bucket (test/backups/), which the tests can read and alter.
        miniflare: { bindings: { ...stack.routerEnv }, r2Buckets: ['BACKUPS'] },
      };
    }),
  ],
  test: {
    name,
    root: '.',
    ...files,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    ...(parallel ? { maxWorkers: 3 } : { fileParallelism: false, maxWorkers: 1 }),
  },
});

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    projects: [
      // tenantctl's end-to-end tests spawn processes: they run in Node (test/vitest.cli.config.ts), the soak and the dashboard's browser tests (test/vitest.browser.config.ts) too.
      workerd('workerd', { include: ['test/**/*.test.ts'], exclude: ['test/cli/**', 'test/soak/**', 'test/dashboard/**', 'node_modules/**', ...SERIAL] }, true),
      workerd('workerd-serial', { include: SERIAL, exclude: [] }, false),
    ],
  },
});
