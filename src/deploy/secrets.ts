/**
 * `npm run secrets -- --env <env> [options]`: generates the keys both workers need, composes the
 * routers' database URLs from the owner URLs given, and writes `.secrets/<env>/router.env` and
 * `control.env`. A second run keeps every value it finds unless `--rotate NAME` asks for a new
 * one; it prints variable names and the commands that upload them, never a value.
 */
import { randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from './database-urls.js';
import { ROTATABLE, type Rotatable } from './secret-values.js';
import { DEFAULT_SECRETS_DIR, envDir, readSecrets, renderSecrets, writeSecrets } from './secrets-files.js';
import { planSecrets, type SecretsInput } from './secrets-plan.js';
import { ENVIRONMENTS, isDeployEnv, secretBulkArgs, shellLine, WORKERS, type DeployEnv } from './targets.js';
import { REPO_ROOT } from './wrangler.js';

const OPTIONS = {
  env: { type: 'string' }, 'secrets-dir': { type: 'string' },
  'control-owner-url': { type: 'string' }, region: { type: 'string', multiple: true },
  'upstash-url': { type: 'string' }, 'upstash-token': { type: 'string' },
  'neon-api-key': { type: 'string' }, 'cloudflare-api-token': { type: 'string' },
  rotate: { type: 'string', multiple: true },
} as const;

/** `--region aws-eu-central-1=postgres://…` (repeatable) as region → URL. */
function regionsOf(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const at = spec.indexOf('=');
    if (at <= 0) throw new InputError(`--region takes <region>=<owner URL>, as in --region aws-eu-central-1=postgres://owner:…@…/app`);
    out[spec.slice(0, at)] = spec.slice(at + 1);
  }
  return out;
}

function rotationsOf(names: readonly string[]): Set<Rotatable> {
  for (const n of names) if (!(ROTATABLE as readonly string[]).includes(n)) throw new InputError(`--rotate takes ${ROTATABLE.join(', ')}, not "${n}"`);
  return new Set(names as Rotatable[]);
}

function main(argv: string[]): number {
  const { values: v } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (!isDeployEnv(v.env)) {
    console.error(`secrets are per environment: pass --env ${ENVIRONMENTS.join(' or --env ')}`);
    return 2;
  }
  const env = v.env;
  const dir = v['secrets-dir'] ?? DEFAULT_SECRETS_DIR;
  const input: SecretsInput = {
    controlOwnerUrl: v['control-owner-url'], regions: regionsOf(v.region ?? []),
    upstashUrl: v['upstash-url'], upstashToken: v['upstash-token'],
    neonApiKey: v['neon-api-key'], cloudflareApiToken: v['cloudflare-api-token'],
    rotate: rotationsOf(v.rotate ?? []),
  };
  const plan = planSecrets(input, readSecrets(dir, env), { bytes: (n) => randomBytes(n), now: () => new Date() });
  writeSecrets(dir, env, renderSecrets(env, plan.files));
  printSummary(env, dir, plan);
  return 0;
}

function printSummary(env: DeployEnv, dir: string, plan: ReturnType<typeof planSecrets>): void {
  const rel = relative(REPO_ROOT, envDir(dir, env));
  const shown = rel.startsWith('..') ? envDir(dir, env) : rel;
  console.log(`wrote ${shown}/router.env (${Object.keys(plan.files.router).length} variables) and ${shown}/control.env (${Object.keys(plan.files.control).length}), mode 0600`);
  for (const line of plan.report) console.log(`  ${line}`);
  console.log('shared by both workers (one value in both files): MASTER_KEY, UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN;');
  console.log('  and one control database: the router reaches it as control_router, the control plane as its owner.');
  if (plan.missing.length > 0) {
    console.log(`still missing (npm run deploy refuses until they are set; run this again with): ${plan.missing.join(', ')}`);
  }
  console.log('next:');
  console.log(`  npx tenantctl bootstrap --env ${env}    # databases, migrations, the router roles with these passwords`);
  console.log(`  npm run deploy -- --env ${env}          # both workers, each with its file's secrets in the same upload`);
  console.log('or, to replace the secrets of workers already deployed (no code change):');
  for (const w of WORKERS) console.log(`  npx wrangler ${shellLine(secretBulkArgs(w, env, `${shown}/${w.secretsFile}`))}`);
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof InputError) && !(err instanceof TypeError && 'code' in err)) throw err;
  console.error(err.message);
  process.exitCode = 2;
}
