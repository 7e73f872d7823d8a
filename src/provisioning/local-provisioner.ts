/**
 * Provisions tenant storage in the regional clusters through their owner connection (the local
 * stand-in for Neon's API, and in production the path for `row` and `schema` tenants, who live in
 * their region's shared database): `row` needs nothing but the region's shared schema, `schema`
 * gets a schema and a NOLOGIN role the router may SET ROLE to (and inherits nothing from),
 * `database` gets its own database and login role, whose connection string is sealed under the
 * master key. Every step checks before it creates, so a retry after a failure half-way completes
 * the work, and deprovisioning drops only what exists.
 * DDL cannot take bound parameters: identifiers come only from `tenantIdent()` (t_ + 32 hex).
 */
import { Client } from '@neondatabase/serverless';
import { seal } from '../crypto/secret-box.js';
import { applyMigrations, type Migration } from '../migrations/runner.js';
import { tenantIdent, withDatabase, type Placement, type ProvisionRequest, type Provisioner } from './provisioner.js';

export interface LocalProvisionerOptions {
  /** Owner URL of each region's shared `app` database. */
  regions: Record<string, { adminUrl: string }>;
  /** The role the router connects to shared databases as. */
  routerRole: string;
  masterKey: CryptoKey;
}

/** A Provisioner over the regional clusters' owner connections. */
export class LocalProvisioner implements Provisioner {
  constructor(private readonly opts: LocalProvisionerOptions) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(opts.routerRole)) throw new Error('invalid router role name');
  }

  async provision(req: ProvisionRequest): Promise<Placement> {
    const adminUrl = this.adminUrl(req.region);
    const base: Placement = { region: req.region, strategy: req.isolation, schemaName: null, roleName: null, databaseName: null, connectionSecret: null, externalRef: null };
    if (req.isolation === 'row') {
      await withClient(adminUrl, (c) => applyMigrations(c, req.migrations, { schema: 'shared' }));
      return { ...base, schemaName: 'shared' };
    }
    const ident = tenantIdent(req.tenantId);
    if (req.isolation === 'schema') {
      await withClient(adminUrl, (c) => this.schemaTenant(c, ident, req.migrations));
      return { ...base, schemaName: ident, roleName: ident };
    }
    const url = await this.databaseTenant(adminUrl, ident, req.migrations);
    const connectionSecret = await seal(this.opts.masterKey, url, req.tenantId);
    return { ...base, schemaName: 'public', roleName: ident, databaseName: ident, connectionSecret };
  }

  async migrate(_tenantId: string, p: Placement, migrations: Migration[]): Promise<string[]> {
    const adminUrl = this.adminUrl(p.region);
    if (p.strategy === 'database') {
      return withClient(withDatabase(adminUrl, checked(p.databaseName)), (c) => applyMigrations(c, migrations, { schema: 'public' }));
    }
    const schema = p.strategy === 'row' ? 'shared' : checked(p.schemaName);
    return withClient(adminUrl, (c) => applyMigrations(c, migrations, { schema }));
  }

  async deprovision(tenantId: string, p: Placement): Promise<void> {
    const adminUrl = this.adminUrl(p.region);
    const ident = tenantIdent(tenantId);
    if (p.strategy === 'row') return withClient(adminUrl, (c) => deleteSharedRows(c, tenantId));
    if (p.strategy === 'schema') {
      return withClient(adminUrl, async (c) => {
        await c.query(`DROP SCHEMA IF EXISTS ${ident} CASCADE`);
        await c.query(`DROP ROLE IF EXISTS ${ident}`);
      });
    }
    await withClient(adminUrl, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${ident}`);
    });
  }

  private adminUrl(region: string): string {
    const r = this.opts.regions[region];
    if (!r) throw new Error(`no cluster for region ${region}`);
    return r.adminUrl;
  }

  private async schemaTenant(c: Client, ident: string, migrations: Migration[]): Promise<void> {
    const router = this.opts.routerRole;
    if (!(await exists(c, 'SELECT 1 FROM pg_roles WHERE rolname = $1', ident))) await c.query(`CREATE ROLE ${ident} NOLOGIN`);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${ident}`);
    await c.query(`REVOKE ALL ON SCHEMA ${ident} FROM PUBLIC`);
    await c.query(`GRANT USAGE ON SCHEMA ${ident} TO ${ident}`);
    // The router may become the tenant's role, but never holds its rights itself.
    await c.query(`GRANT ${ident} TO ${router} WITH INHERIT FALSE, SET TRUE`);
    await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${ident} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${ident}`);
    await applyMigrations(c, migrations, { schema: ident });
  }

  private async databaseTenant(adminUrl: string, ident: string, migrations: Migration[]): Promise<string> {
    const password = [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, '0')).join('');
    await withClient(adminUrl, async (c) => {
      if (await exists(c, 'SELECT 1 FROM pg_roles WHERE rolname = $1', ident)) await c.query(`ALTER ROLE ${ident} LOGIN PASSWORD '${password}'`);
      else await c.query(`CREATE ROLE ${ident} LOGIN PASSWORD '${password}'`);
      if (!(await exists(c, 'SELECT 1 FROM pg_database WHERE datname = $1', ident))) await c.query(`CREATE DATABASE ${ident}`);
      await c.query(`REVOKE ALL ON DATABASE ${ident} FROM PUBLIC`);
      await c.query(`GRANT CONNECT ON DATABASE ${ident} TO ${ident}`);
    });
    await withClient(withDatabase(adminUrl, ident), async (c) => {
      await c.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
      await c.query(`GRANT USAGE ON SCHEMA public TO ${ident}`);
      await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${ident}`);
      await applyMigrations(c, migrations, { schema: 'public' });
    });
    const u = new URL(withDatabase(adminUrl, ident));
    u.username = ident;
    u.password = password;
    return u.toString();
  }
}

/** Deletes a row-isolated tenant's rows from every shared table that has a `tenant_id`. */
async function deleteSharedRows(c: Client, tenantId: string): Promise<void> {
  const { rows } = await c.query<{ stmt: string }>(
    `SELECT format('DELETE FROM %I.%I WHERE tenant_id = $1', table_schema, table_name) AS stmt
       FROM information_schema.columns WHERE table_schema = 'shared' AND column_name = 'tenant_id'`);
  await c.query('BEGIN');
  try {
    // RLS is forced on the shared tables: the policy admits this tenant's rows only.
    await c.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    for (const r of rows) await c.query(r.stmt, [tenantId]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function checked(ident: string | null): string {
  if (!ident || !/^(public|t_[0-9a-f]{32})$/.test(ident)) throw new Error('invalid placement identifier');
  return ident;
}

async function exists(c: Client, sql: string, value: string): Promise<boolean> {
  return (await c.query(sql, [value])).rowCount! > 0;
}

/** Runs `fn` with a connected WebSocket client, always ending it. */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client(url);
  c.on('error', () => {});
  await c.connect();
  try { return await fn(c); } finally { await c.end().catch(() => {}); }
}
