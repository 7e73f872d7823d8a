/**
 * The short soak (test/soak/soak.test.ts): plain Node, since it runs `npm run soak` as a child
 * process with its own stack, edge and fleet, and checks the JSON the soak prints.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: '.',
    environment: 'node',
    include: ['test/soak/**/*.test.ts'],
    testTimeout: 600_000,
  },
});
