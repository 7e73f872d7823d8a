/**
 * Starts the local stack (test/harness/stack.ts) in a plain Node child process, since this module
 * is rewritten by Vite and must not load `ws` or Redis clients itself, and hands its description
 * to the tests through `provide('stack')`.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { spawnStack } from './harness/spawn-stack.js';
import type { Stack } from './support/stack-types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export default async function setup(project: TestProject) {
  const running = await spawnStack<Stack>(ROOT, resolve(ROOT, `.local/stack-test-${process.pid}.json`));
  process.stderr.write(running.log());
  project.provide('stack', running.stack);
  return () => running.stop();
}
