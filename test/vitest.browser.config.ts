/**
 * The dashboard's browser tests: plain Node (playwright-core drives Debian's headless Chromium),
 * against a local stack of their own (.local/stack-browser.json) plus the router in workerd, so
 * that traffic can be driven through it and read back on the dashboard.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: '.',
    environment: 'node',
    include: ['test/dashboard/**/*.test.ts'],
    globalSetup: ['./test/dashboard/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});
