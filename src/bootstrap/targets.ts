/**
 * What the bootstrap prepares, read from the very variables the two workers read (pure): the
 * control worker's `CONTROL_DATABASE_URL` (owner of the control database), `REGION_ADMIN_URLS`
 * (region → owner of its shared database) and `ROUTER_ROLE`, and the router's
 * `CONTROL_DATABASE_URL` and `REGION_DATABASE_URLS`, whose user names and passwords are the roles
 * to create. Both workers call a variable CONTROL_DATABASE_URL with different meanings, hence two
 * maps. Errors name the variable, never a value.
 */

/** A worker's variables, as `NAME: value`. */
export type EnvMap = Record<string, string | undefined>;

/** The two workers' variables. */
export interface BootstrapEnv { router: EnvMap; control: EnvMap }

/** A login role the router uses: its name and password, from the router's URL. */
export interface RoleSpec { name: string; password: string }

/**
 * One database to prepare: the owner's URL, its name, the router's login role and URL to it, and
 * the group role that holds the grants: the login role itself (a single role, as installs before
 * the pair had), or, for a login role `<group>_a` / `<group>_b` of the alternating pair, `<group>`
 * (regions: ROUTER_ROLE; control: the name less its suffix, itself a member of control_router).
 */
export interface DatabaseTarget { ownerUrl: string; database: string; role: RoleSpec; routerUrl: string; group: string }

/**
 * The group of a router login role: `<group>` for `<group>_a` and `<group>_b` (the two login roles
 * a password rotation alternates between), else the role itself.
 */
export function groupOf(role: string, group: string | null): string {
  if (group === null) return /^[a-z_][a-z0-9_]*_[ab]$/.test(role) ? role.slice(0, -2) : role;
  return role === `${group}_a` || role === `${group}_b` ? group : role;
}

/** The other login role of the pair (`_a` ↔ `_b`), or null for a single role. */
export function siblingOf(t: Pick<DatabaseTarget, 'role' | 'group'>): string | null {
  if (t.group === t.role.name) return null;
  return t.role.name.endsWith('_a') ? `${t.group}_b` : `${t.group}_a`;
}

/** Everything the bootstrap prepares. */
export interface BootstrapTargets {
  control: DatabaseTarget;
  regions: (DatabaseTarget & { region: string })[];
  /** The local Neon endpoint (`NEON_LOCAL_ENDPOINT`), when the workers are given one. */
  localEndpoint?: string;
}

/** A configuration the bootstrap refuses; the message is one sentence naming the variable. */
export class BootstrapConfigError extends Error {
  override readonly name = 'BootstrapConfigError';
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
// SCRAM verifiers are made for printable ASCII (src/crypto/scram.ts).
const PASSWORD = /^[\x21-\x7e]{8,1024}$/;
/** The role the router uses on shared databases when the control worker's ROUTER_ROLE is unset. */
export const DEFAULT_ROUTER_ROLE = 'app_router';

/** Reads and cross-checks the targets from both workers' variables. */
export function bootstrapTargets(env: BootstrapEnv): BootstrapTargets {
  const ownerControl = url(env.control.CONTROL_DATABASE_URL, 'control CONTROL_DATABASE_URL');
  const routerControl = url(env.router.CONTROL_DATABASE_URL, 'router CONTROL_DATABASE_URL');
  const owners = urlMap(env.control.REGION_ADMIN_URLS, 'control REGION_ADMIN_URLS');
  const routers = urlMap(env.router.REGION_DATABASE_URLS, 'router REGION_DATABASE_URLS');
  for (const r of Object.keys(routers)) if (!owners[r]) throw new BootstrapConfigError(`router REGION_DATABASE_URLS names region ${r}, which control REGION_ADMIN_URLS does not`);
  for (const r of Object.keys(owners)) if (!routers[r]) throw new BootstrapConfigError(`control REGION_ADMIN_URLS names region ${r}, which router REGION_DATABASE_URLS does not`);
  if (Object.keys(owners).length === 0) throw new BootstrapConfigError('control REGION_ADMIN_URLS names no region');

  const routerRole = env.control.ROUTER_ROLE ?? DEFAULT_ROUTER_ROLE;
  if (!IDENT.test(routerRole)) throw new BootstrapConfigError('control ROUTER_ROLE must be a lower-case identifier');
  const control = target(ownerControl, routerControl, 'router CONTROL_DATABASE_URL', 'control CONTROL_DATABASE_URL', null);
  const regions = Object.keys(owners).sort().map((region) => {
    const t = target(owners[region]!, routers[region]!, `router REGION_DATABASE_URLS.${region}`, `control REGION_ADMIN_URLS.${region}`, routerRole);
    if (t.group !== routerRole) {
      throw new BootstrapConfigError(`router REGION_DATABASE_URLS.${region} logs in as ${t.role.name}, but control ROUTER_ROLE is ${routerRole} (the provisioners grant to that role; its login roles are ${routerRole}, ${routerRole}_a or ${routerRole}_b)`);
    }
    return { region, ...t };
  });
  if (control.group === routerRole || control.role.name === routerRole) throw new BootstrapConfigError('router CONTROL_DATABASE_URL must log in as a role other than the regions\' router role');
  const localEndpoint = env.control.NEON_LOCAL_ENDPOINT ?? env.router.NEON_LOCAL_ENDPOINT;
  return { control, regions, ...(localEndpoint ? { localEndpoint } : {}) };
}

/** `url` with its password replaced by `***`, for printing. */
export function maskUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** `group`: the group the login role must belong to (regions: ROUTER_ROLE); null: `<name>_a`/`_b` names its own (control). */
function target(owner: URL, router: URL, routerVar: string, ownerVar: string, group: string | null): DatabaseTarget {
  const name = decodeURIComponent(router.username);
  const password = decodeURIComponent(router.password);
  if (!IDENT.test(name)) throw new BootstrapConfigError(`${routerVar} must name a lower-case identifier as its user`);
  if (decodeURIComponent(owner.username) === name) throw new BootstrapConfigError(`${routerVar} must not log in as the owner of ${ownerVar}: the router's role owns nothing`);
  if (name.startsWith('pg_') || name.startsWith('neon')) throw new BootstrapConfigError(`${routerVar} names a reserved role as its user`);
  if (!PASSWORD.test(password)) throw new BootstrapConfigError(`${routerVar} needs a password of at least 8 printable ASCII characters`);
  const database = dbName(owner, ownerVar);
  if (dbName(router, routerVar) !== database) throw new BootstrapConfigError(`${routerVar} names another database than ${ownerVar}`);
  return { ownerUrl: owner.toString(), database, role: { name, password }, routerUrl: router.toString(), group: groupOf(name, group) };
}

function dbName(u: URL, variable: string): string {
  const name = decodeURIComponent(u.pathname.slice(1));
  if (!IDENT.test(name)) throw new BootstrapConfigError(`${variable} must name its database (a lower-case identifier)`);
  return name;
}

function url(raw: string | undefined, variable: string): URL {
  if (!raw) throw new BootstrapConfigError(`${variable} is not set`);
  let u: URL;
  try { u = new URL(raw); } catch { throw new BootstrapConfigError(`${variable} is not a URL`); }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new BootstrapConfigError(`${variable} must be a postgres:// URL`);
  if (!u.username || !u.password) throw new BootstrapConfigError(`${variable} must carry a user name and a password`);
  return u;
}

function urlMap(raw: string | undefined, variable: string): Record<string, URL> {
  if (!raw) throw new BootstrapConfigError(`${variable} is not set`);
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { throw new BootstrapConfigError(`${variable} is not JSON`); }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BootstrapConfigError(`${variable} must be a JSON object of region → postgres URL`);
  return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([region, v]) => {
    if (!/^[a-z0-9-]{1,40}$/.test(region)) throw new BootstrapConfigError(`${variable} has an invalid region name`);
    return [region, url(typeof v === 'string' ? v : undefined, `${variable}.${region}`)];
  }));
}
