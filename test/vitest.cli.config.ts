/**
 * The tenantctl end-to-end tests: plain Node (not workerd), since they spawn the real CLI as a
 * child process against a local stack of their own (.local/stack-cli.json). Files run one at a
 * time: they share that stack, and the audit and migrate tests change state every file sees.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: '.',
    environment: 'node',
    include: ['test/cli/**/*.test.ts'],
    globalSetup: ['./test/cli/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
