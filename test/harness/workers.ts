/**
 * Runs a Worker of this repository in workerd through `wrangler dev`, with its variables and
 * secrets in an env file (mode 0600, never on a command line), and waits until it answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface WorkerProcess { url: string; child: ChildProcess }

/** Starts `wrangler dev` for `config` (null: the router's wrangler.toml) on 127.0.0.1:`port`. */
export async function startWorker(root: string, opts: { config: string | null; port: number; envFile: string; env: Record<string, string>; quiet?: boolean; testScheduled?: boolean }): Promise<WorkerProcess> {
  writeFileSync(opts.envFile, Object.entries(opts.env).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n', { mode: 0o600 });
  const args = ['dev', ...(opts.config ? ['-c', opts.config] : []), '--ip', '127.0.0.1', '--port', String(opts.port),
    '--inspector-port', String(await freePort()), '--env-file', opts.envFile, '--show-interactive-dev-session=false',
    ...(opts.testScheduled ? ['--test-scheduled'] : [])];
  const child = spawn(join(root, 'node_modules/.bin/wrangler'), args, {
    cwd: root, stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', 'inherit'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  const url = `http://127.0.0.1:${opts.port}`;
  await waitForHttp(`${url}/healthz`, 90_000, child);
  return { url, child };
}

/** Polls `url` until it answers 200 (or the process dies, or time runs out). */
export async function waitForHttp(url: string, timeoutMs: number, child?: ChildProcess) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try { if ((await fetch(url)).ok) return; } catch { /* not up yet */ }
    if (child && child.exitCode !== null) throw new Error(`${url}: wrangler exited (${child.exitCode})`);
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
