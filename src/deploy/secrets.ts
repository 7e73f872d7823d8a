/**
 * `npm run secrets -- --env <env> [--input <file>|-] [--rotate NAME]`: generates the keys both
 * workers need, composes the routers' database URLs from the owner URLs given (SECRETS_*
 * variables of the environment or of the --input file, never arguments: secrets-input.ts), and
 * writes `.secrets/<env>/router.env` and `control.env`. A second run keeps every value it finds
 * unless `--rotate NAME` asks for a new one; it prints variable names and the commands that
 * upload them, never a value.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { DotenvError, parseDotenv } from '../dotenv/dotenv.js';
import { InputError } from './database-urls.js';
import { parseFlags } from './flags.js';
import { ROTATABLE, type Rotatable } from './secret-values.js';
import { DEFAULT_SECRETS_DIR, envDir, readSecrets, renderSecrets, writeSecrets } from './secrets-files.js';
import { RETIRED_FLAGS, secretsInput } from './secrets-input.js';
import { planSecrets } from './secrets-plan.js';
import { ENVIRONMENTS, isDeployEnv, secretBulkArgs, shellLine, WORKERS, type DeployEnv } from './targets.js';
import { REPO_ROOT } from './wrangler.js';

// Only names and paths: every given value comes from the environment or the --input file.
const OPTIONS = {
  env: { type: 'string' }, 'secrets-dir': { type: 'string' }, input: { type: 'string' },
  rotate: { type: 'string', multiple: true },
} as const;

function rotationsOf(names: readonly string[]): Set<Rotatable> {
  for (const n of names) if (!(ROTATABLE as readonly string[]).includes(n)) throw new InputError(`--rotate takes ${ROTATABLE.join(', ')} (the value given is none of them)`);
  return new Set(names as Rotatable[]);
}

/** The --input file's variables (`-`: standard input); none without the option. */
function inputFile(path: string | undefined): Record<string, string> {
  if (path === undefined) return {};
  let text: string;
  try { text = readFileSync(path === '-' ? 0 : path, 'utf8'); } catch (err) {
    throw new InputError(`cannot read --input ${path === '-' ? 'from standard input' : path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  try { return parseDotenv(text); } catch (err) {
    throw new InputError(`--input ${path === '-' ? '(standard input)' : path}: ${(err as Error).message}`);
  }
}

function main(argv: string[]): number {
  const v = parseFlags(argv, OPTIONS, RETIRED_FLAGS);
  if (!isDeployEnv(v.env)) {
    console.error(`secrets are per environment: pass --env ${ENVIRONMENTS.join(' or --env ')}`);
    return 2;
  }
  const env = v.env;
  const dir = v['secrets-dir'] ?? DEFAULT_SECRETS_DIR;
  const input = secretsInput(process.env, inputFile(v.input), rotationsOf(v.rotate ?? []));
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
    console.log(`still missing (npm run deploy refuses until they are set; run this again with these variables set): ${plan.missing.join(', ')}`);
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
  if (!(err instanceof InputError) && !(err instanceof DotenvError)) throw err;
  console.error(err.message);
  process.exitCode = 2;
}
