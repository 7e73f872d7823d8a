/**
 * Reads a worker's configuration for one environment exactly as wrangler resolves it (its own
 * reader, so inheritance and validation are wrangler's, not a copy of them). Loading wrangler's
 * module takes seconds, so it is imported only when a deploy gets this far.
 */
import { resolve } from 'node:path';
import type { EnvConfig } from './deploy-checks.js';
import type { DeployEnv, WorkerTarget } from './targets.js';
import { REPO_ROOT } from './wrangler.js';

/** `w`'s configuration in `env`: its Worker name, routes and vars. */
export async function loadEnvConfig(w: WorkerTarget, env: DeployEnv): Promise<EnvConfig> {
  process.env.WRANGLER_SEND_METRICS = 'false';
  const wrangler = await import('wrangler');
  const cfg = wrangler.unstable_readConfig({ config: resolve(REPO_ROOT, w.config), env }, { hideWarnings: true });
  return { name: cfg.name ?? w.name, routes: cfg.routes ?? [], vars: cfg.vars ?? {} };
}
