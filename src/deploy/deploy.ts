/**
 * `npm run deploy -- --env staging|production [--dry-run]`: deploys the control plane, then the
 * router, each with its `.secrets/<env>/*.env` uploaded in the same version (`--secrets-file`).
 * Refuses, in one sentence and before any upload, to deploy without an environment (the top
 * level of each config is local-only), with a secret missing or not shared where it must be, or
 * with a placeholder of the committed configs left. `--dry-run` builds both exactly as a deploy
 * would (secrets files included, their values never printed) and prints the commands it would run.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { DotenvError } from '../dotenv/dotenv.js';
import { InputError } from './database-urls.js';
import { parseFlags } from './flags.js';
import { missingSecrets, placeholdersIn, requiredSecrets, sharedMismatches } from './deploy-checks.js';
import { DEFAULT_SECRETS_DIR, envDir, readSecrets } from './secrets-files.js';
import { deployArgs, dryRunArgs, ENVIRONMENTS, isDeployEnv, outdirOf, shellLine, WORKERS, type DeployEnv } from './targets.js';
import { loadEnvConfig } from './wrangler-config.js';
import { REPO_ROOT, runWrangler } from './wrangler.js';

/** A refusal: printed as it is, exit 1. */
class Refusal extends Error {}

/** Checks everything that can be checked without Cloudflare; returns each worker's secrets file path. */
async function preflight(env: DeployEnv, dir: string, dryRun: boolean): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const w of WORKERS) {
    const path = join(envDir(dir, env), w.secretsFile);
    if (!existsSync(path)) throw new Refusal(`refusing to deploy ${env}: ${shown(path)} does not exist; create it with npm run secrets -- --env ${env} (docs/deploy.md)`);
    files.set(w.name, path);
  }
  const secrets = readSecrets(dir, env);
  const mismatched = sharedMismatches(secrets.router, secrets.control);
  if (mismatched.length > 0) throw new Refusal(`refusing to deploy ${env}: router.env and control.env must hold the same ${mismatched.join(', ')}`);
  for (const w of WORKERS) {
    const cfg = await loadEnvConfig(w, env);
    const missing = missingSecrets(requiredSecrets(w, cfg.vars), secrets[w.name]);
    if (missing.length > 0) throw new Refusal(`refusing to deploy ${env}: ${shown(files.get(w.name)!)} has no ${missing.join(', ')}; set ${missing.length > 1 ? 'them' : 'it'} with npm run secrets -- --env ${env} (docs/deploy.md)`);
    const left = placeholdersIn(cfg);
    if (left.length === 0) continue;
    const sentence = `${w.config} [env.${env}] still has placeholder names (${left.join(', ')}): replace them with your own (docs/deploy.md, "Names to replace")`;
    if (!dryRun) throw new Refusal(`refusing to deploy ${env}: ${sentence}`);
    console.log(`note: a real deploy would refuse: ${sentence}`);
  }
  return files;
}

const shown = (path: string) => {
  const rel = relative(REPO_ROOT, path);
  return rel.startsWith('..') ? path : rel;
};

async function main(argv: string[]): Promise<number> {
  const v = parseFlags(argv, { env: { type: 'string' }, 'dry-run': { type: 'boolean' }, 'secrets-dir': { type: 'string' } } as const);
  if (v.env === undefined) throw new Refusal(`refusing to deploy without --env ${ENVIRONMENTS.join('|')}: the top level of wrangler.toml and workers/control/wrangler.toml is the local configuration (no routes, workers.dev off), so a deploy of it would serve nothing`);
  if (!isDeployEnv(v.env)) throw new Refusal(`refusing to deploy "${v.env}": the environments are ${ENVIRONMENTS.join(' and ')}`);
  const env = v.env;
  const dryRun = v['dry-run'] === true;
  const files = await preflight(env, resolve(v['secrets-dir'] ?? DEFAULT_SECRETS_DIR), dryRun);
  const commands = WORKERS.map((w) => ({ w, args: deployArgs(w, env, shown(files.get(w.name)!)) }));
  if (dryRun) {
    for (const { w } of commands) {
      const args = dryRunArgs(w, env, resolve(REPO_ROOT, outdirOf(w, env)), shown(files.get(w.name)!));
      const run = await runWrangler(args, { capture: true });
      if (run.code !== 0) throw new Refusal(`${run.output}\nwrangler could not build ${w.name} for ${env} (exit ${run.code})`);
      // wrangler lists the secrets it would upload by name, their values "(hidden)".
      console.log(run.output.trim());
      console.log(`built ${w.name} for ${env} into ${outdirOf(w, env)}/ with ${shown(files.get(w.name)!)} (wrangler deploy --dry-run)\n`);
    }
    console.log(`dry run: npm run deploy -- --env ${env} would run, in this order:`);
    for (const { args } of commands) console.log(`  npx wrangler ${shellLine(args)}`);
    return 0;
  }
  for (const { w, args } of commands) {
    console.log(`deploying ${w.name} (${env}): npx wrangler ${shellLine(args)}`);
    const run = await runWrangler(args, { capture: false });
    if (run.code !== 0) throw new Refusal(`wrangler could not deploy ${w.name} to ${env} (exit ${run.code})${w.name === 'control' ? '; the router was left as it was' : ''}`);
  }
  console.log(`deployed ${WORKERS.map((w) => w.name).join(' and ')} to ${env}`);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof Refusal || err instanceof InputError || err instanceof DotenvError) {
    console.error(err.message);
    process.exitCode = 1;
  } else throw err;
}
