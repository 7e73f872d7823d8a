/**
 * Starts the local stack (test/harness/stack.ts) in a plain Node child process, since this module
 * is rewritten by Vite and must not load `ws` or Redis clients itself, and hands its description
 * to the tests through `provide('stack')`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export default async function setup(project: TestProject) {
  const stackFile = resolve(ROOT, '.local/stack-test.json');
  const child = spawn(resolve(ROOT, 'node_modules/.bin/tsx'), ['test/harness/stack.ts', 'services'], {
    cwd: ROOT, env: { ...process.env, STACK_FILE: stackFile }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`stack did not start in 120 s:\n${log}`)), 120_000);
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('STACK_READY')) { clearTimeout(timer); ready(); } });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`stack exited (${code}):\n${log}`)); });
  });
  process.stderr.write(log);
  project.provide('stack', JSON.parse(readFileSync(stackFile, 'utf8')));
  return async () => {
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  };
}
