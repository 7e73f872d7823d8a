/**
 * One-time set-up of each regional cluster (what a Neon project per region is given once):
 * the router's login role, the shared `app` database with its `shared` schema for row-isolated
 * tenants, and on the control region the control database with a SELECT-only router role.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyMigrations, sha256, type Migration } from '../../src/migrations/runner.js';
import { withClient } from '../../src/provisioning/local-provisioner.js';
import { withDatabase } from '../../src/provisioning/provisioner.js';
import type { Cluster } from './postgres.js';

export const ROUTER_ROLE = 'app_router';
export const CONTROL_ROLE = 'control_router';

/** The migrations in `migrations/<set>/`, by file name. */
export function loadMigrations(root: string, set: 'control' | 'tenant'): Migration[] {
  const dir = join(root, 'migrations', set);
  return readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((name) => ({ name, sql: readFileSync(join(dir, name), 'utf8') }));
}

/** Creates the router role and the shared database of `cluster`; returns the router's URL to it. */
export async function bootstrapRegion(cluster: Cluster, routerPassword: string, tenantMigrations: Migration[]): Promise<string> {
  await withClient(cluster.adminUrl('postgres'), async (c) => {
    await c.query(`CREATE ROLE ${ROUTER_ROLE} LOGIN PASSWORD '${routerPassword}' NOSUPERUSER NOBYPASSRLS`);
    await c.query('CREATE DATABASE app');
  });
  await withClient(cluster.adminUrl('app'), async (c) => {
    await c.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    await c.query('CREATE SCHEMA shared');
    await c.query(`GRANT USAGE ON SCHEMA shared TO ${ROUTER_ROLE}`);
    await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA shared GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${ROUTER_ROLE}`);
    await applyMigrations(c, tenantMigrations, { schema: 'shared' });
  });
  return routerUrl(cluster.adminUrl('app'), ROUTER_ROLE, routerPassword);
}

/** Creates the control database on `cluster` with its migration catalogue; returns the router's URL to it. */
export async function bootstrapControl(cluster: Cluster, password: string, controlMigrations: Migration[], tenantMigrations: Migration[]): Promise<string> {
  await withClient(cluster.adminUrl('postgres'), async (c) => {
    await c.query(`CREATE ROLE ${CONTROL_ROLE} LOGIN PASSWORD '${password}' NOSUPERUSER`);
    await c.query('CREATE DATABASE control');
  });
  await withClient(cluster.adminUrl('control'), async (c) => {
    await applyMigrations(c, controlMigrations, { schema: 'public' });
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${CONTROL_ROLE}`);
    await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${CONTROL_ROLE}`);
    // The tenant guards write metered usage, and nothing else.
    await c.query(`GRANT INSERT, UPDATE ON tenant_usage TO ${CONTROL_ROLE}`);
    // ... and appends edge security refusals to the audit log, through its one function.
    await c.query(`GRANT EXECUTE ON FUNCTION audit_append(text, text, uuid, text, jsonb) TO ${CONTROL_ROLE}`);
    // The control plane's catalogue starts with the repository's tenant migrations.
    for (const m of tenantMigrations) {
      await c.query('INSERT INTO tenant_migration_catalog (name, sql, checksum) VALUES ($1, $2, $3)', [m.name, m.sql, await sha256(m.sql)]);
    }
  });
  return routerUrl(cluster.adminUrl('control'), CONTROL_ROLE, password);
}

function routerUrl(adminUrl: string, user: string, password: string): string {
  const u = new URL(withDatabase(adminUrl, new URL(adminUrl).pathname.slice(1)));
  u.username = user;
  u.password = password;
  return u.toString();
}
