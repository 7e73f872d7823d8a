/** Tests run inside workerd against the real local stack started by global-setup.ts. */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import type { Stack } from './support/stack-types.js';

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const stack = inject('stack') as Stack;
      return {
        main: './workers/router/index.ts',
        wrangler: { configPath: './wrangler.toml' },
        miniflare: { bindings: { ...stack.routerEnv } },
      };
    }),
  ],
  test: {
    root: '.',
    include: ['test/**/*.test.ts'],
    // tenantctl's end-to-end tests spawn processes: they run in Node (test/vitest.cli.config.ts).
    exclude: ['test/cli/**', 'test/soak/**', 'node_modules/**'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
