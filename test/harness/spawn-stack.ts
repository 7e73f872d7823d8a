/** Starts test/harness/stack.ts in a child process and waits until it is ready. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface RunningStack<S> {
  stack: S; child: ChildProcess; log: () => string; stop(): Promise<void>;
  /** With `group`: signals the stack's whole process group (its PostgreSQL, Redis, workerd too). */
  killGroup(signal: NodeJS.Signals): void;
}

/** Runs the stack in `mode` with its description written to `stackFile`. */
/**
 * With `group`, the stack gets its own process group, so that a caller can stop everything it
 * started (not only the tsx process) even where the stack cannot run its own shutdown.
 */
export async function spawnStack<S>(root: string, stackFile: string, mode = 'services', opts: { group?: boolean } = {}): Promise<RunningStack<S>> {
  const child = spawn(resolve(root, 'node_modules/.bin/tsx'), ['test/harness/stack.ts', mode], {
    cwd: root, env: { ...process.env, STACK_FILE: stackFile }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.group === true,
  });
  const killGroup = (signal: NodeJS.Signals) => {
    try { if (opts.group) process.kill(-child.pid!, signal); else child.kill(signal); } catch { /* gone */ }
  };
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`stack did not start in 120 s:\n${log}`)), 120_000);
    // Read to the end: an unread pipe that fills up would block the stack's writes.
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('STACK_READY')) { clearTimeout(timer); ready(); } });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`stack exited (${code}):\n${log}`)); });
  }).catch((err: unknown) => { killGroup('SIGKILL'); throw err; });
  return {
    stack: JSON.parse(readFileSync(stackFile, 'utf8')) as S,
    child,
    log: () => log,
    killGroup,
    stop: async () => {
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    },
  };
}
