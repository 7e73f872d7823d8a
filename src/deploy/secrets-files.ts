/**
 * `.secrets/<env>/router.env` and `.secrets/<env>/control.env`: where they are, what each holds
 * (in a fixed order, each variable under a comment saying what it is), and reading and writing
 * them: the folders 0700, the files 0600, replaced atomically (written beside, then renamed).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DotenvError, formatDotenv, parseDotenv, type EnvEntry } from '../dotenv/dotenv.js';
import type { SecretsFiles } from './secrets-plan.js';
import { REPO_ROOT } from './wrangler.js';

/** The default secrets folder (gitignored). */
export const DEFAULT_SECRETS_DIR = join(REPO_ROOT, '.secrets');

/** The folder of `env`'s two files. */
export const envDir = (dir: string, env: string): string => join(dir, env);

const ROUTER_VARS: Record<string, string> = {
  PLATFORM_JWT_SECRET: 'key ring <kid>:<secret>,… of platform tokens (HS256): the first entry signs, all verify',
  CONTEXT_SIGNING_KEY: 'key ring <kid>:<base64url ES256 private JWK>,… signing proxied requests\' tenant contexts (published at /.well-known/jwks.json)',
  MASTER_KEY: 'key ring <kid>:<base64 32 bytes>,… sealing dedicated databases\' URLs: the SAME value as in control.env',
  CONTROL_DATABASE_URL: 'the router\'s role on the control database (control_router)',
  REGION_DATABASE_URLS: 'JSON: region -> the router\'s role (app_router) on that region\'s shared database',
  UPSTASH_REDIS_REST_URL: 'the L2 tenant cache (optional): the SAME database as in control.env',
  UPSTASH_REDIS_REST_TOKEN: 'its REST token',
};
const CONTROL_VARS: Record<string, string> = {
  CONTROL_DATABASE_URL: 'the control database\'s owner role (the same database as router.env\'s, another role)',
  MASTER_KEY: 'the SAME key ring as in router.env',
  ADMIN_TOKEN: 'bearer token of the admin API and tenantctl (--token)',
  REGION_ADMIN_URLS: 'JSON: region -> owner role of that region\'s shared database',
  NEON_API_KEY: 'Neon API key (PROVISIONER=neon): projects for dedicated-database tenants',
  UPSTASH_REDIS_REST_URL: 'the L2 tenant cache the control plane invalidates: the SAME database as in router.env',
  UPSTASH_REDIS_REST_TOKEN: 'its REST token',
  CLOUDFLARE_API_TOKEN: 'Cloudflare API token for custom hostnames on the SaaS zone (SSL and Certificates: Edit)',
};

/** Entries in the documented order, then any variable added by hand. */
function entries(values: Record<string, string>, known: Record<string, string>): EnvEntry[] {
  const order = [...Object.keys(known).filter((k) => k in values), ...Object.keys(values).filter((k) => !(k in known)).sort()];
  return order.map((name) => ({ name, value: values[name]!, comment: known[name] }));
}

/** The two files' texts. */
export function renderSecrets(env: string, files: SecretsFiles): { router: string; control: string } {
  const header = (worker: string) => [`${worker} secrets for "${env}": written by \`npm run secrets -- --env ${env}\`, uploaded by \`npm run deploy -- --env ${env}\`,`,
    'read by `tenantctl bootstrap --env ' + env + '`. Never commit or share this file; values are single-quoted.'];
  return {
    router: formatDotenv(header('tenant-router'), entries(files.router, ROUTER_VARS)),
    control: formatDotenv(header('tenant-control'), entries(files.control, CONTROL_VARS)),
  };
}

/** Reads `env`'s files (an absent file reads as empty). */
export function readSecrets(dir: string, env: string): SecretsFiles {
  const read = (name: string) => {
    const path = join(envDir(dir, env), name);
    if (!existsSync(path)) return {};
    try { return parseDotenv(readFileSync(path, 'utf8')); } catch (err) {
      throw err instanceof DotenvError ? new DotenvError(`${path}: ${err.message}`) : err;
    }
  };
  return { router: read('router.env'), control: read('control.env') };
}

/** Writes `env`'s files, folders 0700 and files 0600 whatever the umask. */
export function writeSecrets(dir: string, env: string, texts: { router: string; control: string }): void {
  for (const d of [dir, envDir(dir, env)]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chmodSync(d, 0o700);
  }
  for (const [name, text] of [['router.env', texts.router], ['control.env', texts.control]] as const) {
    const path = join(envDir(dir, env), name);
    writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
    chmodSync(`${path}.tmp`, 0o600);
    renameSync(`${path}.tmp`, path);
  }
}
