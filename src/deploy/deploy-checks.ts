/**
 * What `npm run deploy` checks before it uploads anything, as pure functions of the secrets files
 * and the environment's wrangler configuration: every secret a worker needs is there, the values
 * both workers must share are equal, and no placeholder name of the committed configs is left.
 */
import type { WorkerTarget } from './targets.js';

/** The parts of a resolved wrangler environment these checks read. */
export interface EnvConfig {
  name: string;
  routes: ReadonlyArray<string | { pattern: string; zone_name?: string; zone_id?: string; custom_domain?: boolean }>;
  vars: Readonly<Record<string, unknown>>;
}

/** Secrets `w` cannot start without in `env` (its vars say which services it talks to). */
export function requiredSecrets(w: WorkerTarget, vars: EnvConfig['vars']): string[] {
  if (w.name === 'router') return ['PLATFORM_JWT_SECRET', 'MASTER_KEY', 'CONTROL_DATABASE_URL', 'REGION_DATABASE_URLS'];
  return ['CONTROL_DATABASE_URL', 'MASTER_KEY', 'ADMIN_TOKEN', 'REGION_ADMIN_URLS',
    ...(vars.PROVISIONER === 'neon' ? ['NEON_API_KEY'] : []),
    ...(vars.CUSTOM_HOSTNAMES === 'cloudflare' ? ['CLOUDFLARE_API_TOKEN'] : [])];
}

/** The required names absent (or empty) in `values`. */
export const missingSecrets = (required: readonly string[], values: Readonly<Record<string, string>>): string[] =>
  required.filter((n) => !values[n]);

/** Names whose values differ between the two files although both workers must hold the same one. */
export function sharedMismatches(router: Readonly<Record<string, string>>, control: Readonly<Record<string, string>>): string[] {
  return ['MASTER_KEY', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN'].filter((n) => router[n] !== control[n]);
}

/**
 * The committed configs' placeholders: the documentation domains (RFC 2606: example.com, .net,
 * .org, never a zone anyone deploys to), `replace-me` ids and the all-zero zone id.
 */
const PLACEHOLDER = /(^|[^a-z0-9-])example\.(com|net|org)\b|replace-me|\b0{32}\b/i;

/** Each route and var of `cfg` that still holds a placeholder, as `route <pattern>` / `var <NAME>`. */
export function placeholdersIn(cfg: EnvConfig): string[] {
  const routes = cfg.routes.filter((r) => (typeof r === 'string' ? PLACEHOLDER.test(r) : PLACEHOLDER.test(r.pattern) || PLACEHOLDER.test(r.zone_name ?? '')))
    .map((r) => `route ${typeof r === 'string' ? r : r.pattern}`);
  const vars = Object.entries(cfg.vars).filter(([, v]) => PLACEHOLDER.test(typeof v === 'string' ? v : JSON.stringify(v))).map(([k]) => `var ${k}`);
  return [...routes, ...vars];
}
