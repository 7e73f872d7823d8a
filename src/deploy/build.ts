/**
 * `npm run build`: a dry-run build of both Workers in both environments (`wrangler deploy
 * --dry-run`, no Cloudflare account or login needed), each bundle measured raw and gzip-compressed,
 * a table printed, and exit 1 if any bundle is over the Workers Free plan's 3 MiB compressed limit.
 * `--env staging|production` builds one environment only; `--limit-mib 10` checks against the
 * Workers Paid plan's limit instead.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FREE_PLAN_LIMIT_BYTES, measureBundle, mib, overLimit, sizeTable, type BundleSize } from './bundle-size.js';
import { dryRunArgs, ENVIRONMENTS, isDeployEnv, outdirOf, shellLine, WORKERS } from './targets.js';
import { REPO_ROOT, runWrangler } from './wrangler.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { env: { type: 'string' }, 'limit-mib': { type: 'string' } }, strict: true });
  if (values.env !== undefined && !isDeployEnv(values.env)) {
    console.error(`unknown environment "${values.env}": use ${ENVIRONMENTS.join(' or ')}`);
    return 2;
  }
  const limit = values['limit-mib'] === undefined ? FREE_PLAN_LIMIT_BYTES : Number(values['limit-mib']) * 1024 * 1024;
  if (!(limit > 0)) {
    console.error(`--limit-mib must be a positive number of MiB, not "${values['limit-mib']}"`);
    return 2;
  }
  const envs = values.env ? [values.env] : [...ENVIRONMENTS];
  const sizes: BundleSize[] = [];
  for (const env of envs) {
    for (const w of WORKERS) {
      const outdir = resolve(REPO_ROOT, outdirOf(w, env));
      rmSync(outdir, { recursive: true, force: true });
      const args = dryRunArgs(w, env, outdir);
      const run = await runWrangler(args, { capture: true });
      if (run.code !== 0) {
        console.error(run.output);
        console.error(`wrangler could not build ${w.name} for ${env} (exit ${run.code}): wrangler ${shellLine(args)}`);
        return 1;
      }
      sizes.push(measureBundle(outdir, w.name, env));
    }
  }
  console.log(sizeTable(sizes, limit));
  const over = overLimit(sizes, limit);
  for (const line of over) console.error(line);
  if (over.length > 0) return 1;
  console.log(`all ${sizes.length} bundles are within the ${mib(limit)} compressed limit (bundles in dist/)`);
  return 0;
}

process.exitCode = await main();
