/**
 * The browser tests' stack: the local services and the control worker (test/harness/stack.ts,
 * described in .local/stack-browser.json), then the router under `wrangler dev`, so the control
 * worker's METRICS_AGGREGATOR binding (script_name tenant-router) reaches the router's aggregator.
 */
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { freePort } from '../harness/ports.js';
import { spawnStack } from '../harness/spawn-stack.js';
import { startWorker } from '../harness/workers.js';
import type { Stack } from '../support/stack-types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

declare module 'vitest' {
  interface ProvidedContext { routerUrl: string }
}

export default async function setup(project: TestProject) {
  const running = await spawnStack<Stack>(ROOT, resolve(ROOT, '.local/stack-browser.json'));
  const envFile = resolve(ROOT, `.local/router-browser-${process.pid}.env`);
  let router;
  try {
    router = await startWorker(ROOT, { config: null, port: await freePort(), env: running.stack.routerEnv, envFile, quiet: true });
  } catch (err) {
    await running.stop();
    throw err;
  }
  project.provide('stack', running.stack);
  project.provide('routerUrl', router.url);
  return async () => {
    router.child.kill('SIGTERM');
    await new Promise((r) => { router.child.once('exit', r); setTimeout(r, 5000); });
    rmSync(envFile, { force: true });
    await running.stop();
  };
}
