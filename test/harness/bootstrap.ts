/**
 * One-time set-up of each regional cluster (what a Neon project per region is given once):
 * the router's login role (owns nothing, cannot bypass RLS), the shared `app` database with its
 * `shared` schema for row-isolated tenants and its `router` schema (fences, router.enter), and on
 * the control cluster the control database with the router's control role. Passwords travel as
 * SCRAM verifiers, never in the DDL. Running it again on a bootstrapped cluster changes nothing
 * but the roles' passwords.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@neondatabase/serverless';
import { passwordClause, scramVerifier } from '../../src/crypto/scram.js';
import { applyMigrations, sha256, type Migration } from '../../src/migrations/runner.js';
import { exists, withClient } from '../../src/provisioning/pg-client.js';
import { withDatabase } from '../../src/provisioning/provisioner.js';
import { assertSafeRole, installRouterSchema } from '../../src/provisioning/router-objects.js';
import { RUNTIME_ROLE_ATTRIBUTES } from '../../src/provisioning/runtime-role.js';
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
    await loginRole(c, ROUTER_ROLE, routerPassword);
    await database(c, 'app');
  });
  await withClient(cluster.adminUrl('app'), async (c) => {
    await c.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    await c.query('CREATE SCHEMA IF NOT EXISTS shared');
    await c.query(`GRANT USAGE ON SCHEMA shared TO ${ROUTER_ROLE}`);
    await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA shared GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${ROUTER_ROLE}`);
    await applyMigrations(c, tenantMigrations, { schema: 'shared' });
    await installRouterSchema(c, ROUTER_ROLE);
    await assertSafeRole(c, ROUTER_ROLE);
  });
  return routerUrl(cluster.adminUrl('app'), ROUTER_ROLE, routerPassword);
}

/** Creates the control database on `cluster` with its migration catalogue; returns the router's URL to it. */
export async function bootstrapControl(cluster: Cluster, password: string, controlMigrations: Migration[], tenantMigrations: Migration[]): Promise<string> {
  await withClient(cluster.adminUrl('postgres'), async (c) => {
    // The role exists before the migrations, which grant it what the router needs.
    await loginRole(c, CONTROL_ROLE, password);
    await database(c, 'control');
  });
  await withClient(cluster.adminUrl('control'), async (c) => {
    await applyMigrations(c, controlMigrations, { schema: 'public' });
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${CONTROL_ROLE}`);
    await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${CONTROL_ROLE}`);
    // The control plane's catalogue starts with the repository's tenant migrations.
    for (const m of tenantMigrations) {
      await c.query('INSERT INTO tenant_migration_catalog (name, sql, checksum) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
        [m.name, m.sql, await sha256(m.sql)]);
    }
  });
  return routerUrl(cluster.adminUrl('control'), CONTROL_ROLE, password);
}

/** Creates `role` as a login role that cannot bypass RLS, or sets its password if it exists. */
async function loginRole(c: Client, role: string, password: string): Promise<void> {
  const secret = passwordClause(await scramVerifier(password));
  const verb = (await exists(c, 'SELECT 1 FROM pg_roles WHERE rolname = $1', role)) ? 'ALTER' : 'CREATE';
  await c.query(`${verb} ROLE ${role} ${RUNTIME_ROLE_ATTRIBUTES} ${secret}`);
}

async function database(c: Client, name: string): Promise<void> {
  if (!(await exists(c, 'SELECT 1 FROM pg_database WHERE datname = $1', name))) await c.query(`CREATE DATABASE ${name}`);
}

function routerUrl(adminUrl: string, user: string, password: string): string {
  const u = new URL(withDatabase(adminUrl, new URL(adminUrl).pathname.slice(1)));
  u.username = user;
  u.password = password;
  return u.toString();
}
