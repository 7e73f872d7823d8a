/**
 * Runs the repository's own wrangler (node_modules/.bin/wrangler, pinned) from the repository
 * root, with metrics off, so builds and deploys behave the same on every machine and in CI.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: configs and `.secrets/` resolve against it, not the caller's cwd. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A finished wrangler run: its exit code and (when captured) its output. */
export interface WranglerRun { code: number; output: string }

/**
 * Runs `wrangler ...args`. `capture`: collect stdout and stderr (shown by the caller only if it
 * fails); otherwise wrangler talks to the terminal itself (a deploy's progress, its questions).
 */
export function runWrangler(args: readonly string[], opts: { capture: boolean }): Promise<WranglerRun> {
  const child = spawn(join(REPO_ROOT, 'node_modules/.bin/wrangler'), [...args], {
    cwd: REPO_ROOT,
    stdio: opts.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code, signal) => done({ code: code ?? (signal ? 128 : 1), output }));
  });
}
