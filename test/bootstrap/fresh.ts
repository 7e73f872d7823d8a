/// <reference types="vite/client" />
/**
 * Fresh, empty databases for the bootstrap tests on one of the stack's clusters, owned by a
 * Neon-like owner (LOGIN CREATEDB CREATEROLE, a member of `neon_superuser`, not a superuser), and
 * the two workers' variable maps pointing at them. Role names are random: roles are cluster-wide.
 */
import { scramVerifier, passwordClause, randomPassword } from '../../src/crypto/scram.js';
import type { BootstrapEnv } from '../../src/bootstrap/index.js';
import type { Migration } from '../../src/migrations/runner.js';
import { sqlAt, stack } from '../support/helpers.js';

export const EU = 'aws-eu-central-1';

// The package's migrations, as the bootstrap's callers read them from migrations/.
const files = import.meta.glob('../../migrations/*/*.sql', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const set = (name: string): Migration[] => Object.entries(files).filter(([p]) => p.includes(`/migrations/${name}/`))
  .map(([p, sql]) => ({ name: p.split('/').pop()!, sql })).sort((a, b) => a.name.localeCompare(b.name));
export const MIGRATIONS = { control: set('control'), tenant: set('tenant') };

export interface Fresh {
  env: BootstrapEnv;
  owner: string;
  routerRole: string;
  controlRole: string;
  /** Owner URL of a database, superuser URL of the cluster. */
  ownerUrl(db: 'ctl' | 'app'): string;
  superUrl: string;
  routerUrl(db: 'ctl' | 'app', password?: string): string;
  names: { ctl: string; app: string };
  drop(): Promise<void>;
}

const withDb = (url: string, db: string, user?: string, password?: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  if (user) { u.username = user; u.password = password!; }
  return u.toString();
};

/** Creates the owner and returns the env maps; the databases do not exist yet (the bootstrap creates them). */
export async function freshTarget(): Promise<Fresh> {
  const tag = crypto.randomUUID().replace(/-/g, '').slice(0, 10);
  const superUrl = stack.regions[EU]!.adminUrl;
  const su = sqlAt(superUrl);
  const owner = `o_${tag}`;
  const ownerPassword = randomPassword();
  try { await su.query('CREATE ROLE neon_superuser NOLOGIN CREATEDB CREATEROLE BYPASSRLS'); } catch (err) {
    if ((err as { code?: string }).code !== '42710') throw err;
  }
  await su.query(`CREATE ROLE ${owner} LOGIN CREATEDB CREATEROLE IN ROLE neon_superuser ${passwordClause(await scramVerifier(ownerPassword))}`);
  const names = { ctl: `ctl_${tag}`, app: `app_${tag}` };
  const routerRole = `r_${tag}`;
  const controlRole = `c_${tag}`;
  const passwords = { ctl: randomPassword(), app: randomPassword() };
  const ownerUrl = (db: 'ctl' | 'app') => withDb(superUrl, names[db], owner, ownerPassword);
  const routerUrl = (db: 'ctl' | 'app', password = passwords[db]) => withDb(superUrl, names[db], db === 'ctl' ? controlRole : routerRole, password);
  const env: BootstrapEnv = {
    control: {
      CONTROL_DATABASE_URL: ownerUrl('ctl'), REGION_ADMIN_URLS: JSON.stringify({ [EU]: ownerUrl('app') }),
      ROUTER_ROLE: routerRole, PROVISIONER: 'local',
    },
    router: { CONTROL_DATABASE_URL: routerUrl('ctl'), REGION_DATABASE_URLS: JSON.stringify({ [EU]: routerUrl('app') }) },
  };
  return {
    env, owner, routerRole, controlRole, ownerUrl, superUrl, routerUrl, names,
    async drop() {
      for (const db of Object.values(names)) await su.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      const left = await su.query("SELECT rolname FROM pg_roles WHERE rolname LIKE '%' || $1 || '%' OR (rolname = 'control_router' AND NOT rolcanlogin)", [tag]) as { rolname: string }[];
      for (const r of left.filter((x) => x.rolname !== owner)) await su.query(`DROP ROLE IF EXISTS ${r.rolname}`);
      await su.query(`DROP ROLE IF EXISTS ${owner}`);
    },
  };
}
