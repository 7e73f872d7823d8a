/**
 * Provisions tenant storage in the local regional clusters, the stand-in for Neon's API:
 * `row` needs nothing but the region's shared schema, `schema` gets a schema and a NOLOGIN role
 * the router may SET ROLE to (and inherits nothing from), `database` gets its own database and
 * login role, whose connection string is sealed under the master key.
 * Every step checks before it creates, so a retry after a failure half-way completes the work.
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
  tenantMigrations: Migration[];
}

/** A Provisioner over the local embedded clusters. */
export class LocalProvisioner implements Provisioner {
  constructor(private readonly opts: LocalProvisionerOptions) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(opts.routerRole)) throw new Error('invalid router role name');
  }

  async provision(req: ProvisionRequest): Promise<Placement> {
    const region = this.opts.regions[req.region];
    if (!region) throw new Error(`no local cluster for region ${req.region}`);
    const base: Placement = { region: req.region, strategy: req.isolation, schemaName: null, roleName: null, databaseName: null, connectionSecret: null };
    if (req.isolation === 'row') return { ...base, schemaName: 'shared' };
    const ident = tenantIdent(req.tenantId);
    if (req.isolation === 'schema') {
      await withClient(region.adminUrl, (c) => this.schemaTenant(c, ident));
      return { ...base, schemaName: ident, roleName: ident };
    }
    const url = await this.databaseTenant(region.adminUrl, ident);
    const connectionSecret = await seal(this.opts.masterKey, url, req.tenantId);
    return { ...base, schemaName: 'public', roleName: ident, databaseName: ident, connectionSecret };
  }

  private async schemaTenant(c: Client, ident: string): Promise<void> {
    const router = this.opts.routerRole;
    if (!(await exists(c, 'SELECT 1 FROM pg_roles WHERE rolname = $1', ident))) await c.query(`CREATE ROLE ${ident} NOLOGIN`);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${ident}`);
    await c.query(`REVOKE ALL ON SCHEMA ${ident} FROM PUBLIC`);
    await c.query(`GRANT USAGE ON SCHEMA ${ident} TO ${ident}`);
    // The router may become the tenant's role, but never holds its rights itself.
    await c.query(`GRANT ${ident} TO ${router} WITH INHERIT FALSE, SET TRUE`);
    await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${ident} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${ident}`);
    await applyMigrations(c, this.opts.tenantMigrations, { schema: ident });
  }

  private async databaseTenant(adminUrl: string, ident: string): Promise<string> {
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
      await applyMigrations(c, this.opts.tenantMigrations, { schema: 'public' });
    });
    const u = new URL(withDatabase(adminUrl, ident));
    u.username = ident;
    u.password = password;
    return u.toString();
  }
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
