/** Starts test/harness/stack.ts in a child process and waits until it is ready. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface RunningStack<S> { stack: S; child: ChildProcess; log: () => string; stop(): Promise<void> }

/** Runs the stack in `mode` with its description written to `stackFile`. */
export async function spawnStack<S>(root: string, stackFile: string, mode = 'services'): Promise<RunningStack<S>> {
  const child = spawn(resolve(root, 'node_modules/.bin/tsx'), ['test/harness/stack.ts', mode], {
    cwd: root, env: { ...process.env, STACK_FILE: stackFile }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`stack did not start in 120 s:\n${log}`)), 120_000);
    // Read to the end: an unread pipe that fills up would block the stack's writes.
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('STACK_READY')) { clearTimeout(timer); ready(); } });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`stack exited (${code}):\n${log}`)); });
  });
  return {
    stack: JSON.parse(readFileSync(stackFile, 'utf8')) as S,
    child,
    log: () => log,
    stop: async () => {
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    },
  };
}
