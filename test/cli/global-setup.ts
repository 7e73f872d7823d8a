/**
 * Starts the local stack like test/global-setup.ts does, but described in .local/stack-cli.json,
 * the file the tests pass to tenantctl with --stack.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { spawnStack } from '../harness/spawn-stack.js';
import type { Stack } from '../support/stack-types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export default async function setup(project: TestProject) {
  const running = await spawnStack<Stack>(ROOT, resolve(ROOT, '.local/stack-cli.json'));
  process.stderr.write(running.log());
  project.provide('stack', running.stack);
  return () => running.stop();
}
