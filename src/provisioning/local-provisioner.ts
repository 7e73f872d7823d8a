/**
 * Provisions tenant storage in the regional clusters through their owner connection (the local
 * stand-in for Neon's API, and in production the path for `row` and `schema` tenants, who live in
 * their region's shared database): `row` needs nothing but the region's shared schema, `schema`
 * gets a schema and a NOLOGIN role the router may SET ROLE to (and inherits nothing from),
 * `database` gets its own database (owned by the cluster's owner) with a login role that owns
 * nothing, whose connection string is sealed under the master key. That role is named by
 * `runtimeRoleName` (as on Neon), never `t_<id>`: roles are cluster-wide, and a tenant moving
 * between `schema` and `database` in one region holds both placements at once for a while.
 * Databases made before that kept `t_<id>` as their role; the placement records which. Every step checks before it
 * creates, so a retry after a failure half-way completes the work; the serving role is checked
 * (router.unsafe_reason) before a placement is returned. Deprovisioning fences first (see
 * router-objects.ts), then drops, then counts what is left.
 * DDL cannot take bound parameters: identifiers come only from `tenantIdent()` (t_ + 32 hex), and
 * passwords travel as SCRAM verifiers, never in clear.
 */
import type { Client } from '@neondatabase/serverless';
import { seal, type MasterKeys } from '../crypto/secret-box.js';
import { passwordClause, randomPassword, scramVerifier } from '../crypto/scram.js';
import { applyMigrations, type Migration } from '../migrations/runner.js';
import type { ApplyOutcome, CataloguedMigration, RevertOutcome } from '../migrations/batch-runner.js';
import { eachDatabase, migrateDatabase, migrateSharedDatabase, revertDatabase, revertSharedDatabase } from './fleet-migrate.js';
import { exists, withClient } from './pg-client.js';
import { assertSafeRole, countSharedRows, deleteSharedRows, DELETED, fenceDatabase, fenceTenant, hasRouterSchema, installRouterSchema, removeFence } from './router-objects.js';
import { connectionLimitSql, RUNTIME_ROLE_ATTRIBUTES, runtimeRoleName } from './runtime-role.js';
import { leftoverCount, tenantIdent, withDatabase, type Leftovers, type PlacedTenant, type Placement, type ProvisionRequest, type Provisioner } from './provisioner.js';

export { withClient } from './pg-client.js';

export interface LocalProvisionerOptions {
  /** Owner URL of each region's shared `app` database. */
  regions: Record<string, { adminUrl: string }>;
  /** The role the router connects to shared databases as. */
  routerRole: string;
  /** The MASTER_KEY ring: dedicated databases' connection strings are sealed under its current key. */
  masterKey: MasterKeys;
}

/** A Provisioner over the regional clusters' owner connections. */
export class LocalProvisioner implements Provisioner {
  constructor(private readonly opts: LocalProvisionerOptions) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(opts.routerRole)) throw new Error('invalid router role name');
  }

  async provision(req: ProvisionRequest): Promise<Placement> {
    const adminUrl = this.adminUrl(req.region);
    const router = this.opts.routerRole;
    const base: Placement = { region: req.region, strategy: req.isolation, schemaName: null, roleName: null, databaseName: null, connectionSecret: null, externalRef: null };
    if (req.isolation === 'row') {
      await withClient(adminUrl, async (c) => {
        await applyMigrations(c, req.migrations, { schema: 'shared' });
        await assertSafeRole(c, router);
      });
      return { ...base, schemaName: 'shared' };
    }
    const ident = tenantIdent(req.tenantId);
    if (req.isolation === 'schema') {
      await withClient(adminUrl, async (c) => {
        await this.schemaTenant(c, ident, req.migrations);
        if (req.connectionLimit) await c.query(connectionLimitSql(ident, req.connectionLimit));
        await assertSafeRole(c, router);
      });
      return { ...base, schemaName: ident, roleName: ident };
    }
    const role = await runtimeRoleName(req.tenantId);
    const url = await this.databaseTenant(adminUrl, ident, role, req.migrations);
    if (req.connectionLimit) await withClient(adminUrl, (c) => c.query(connectionLimitSql(role, req.connectionLimit!)));
    const connectionSecret = await seal(this.opts.masterKey, url, req.tenantId);
    return { ...base, schemaName: 'public', roleName: role, databaseName: ident, connectionSecret };
  }

  async migrate(_tenantId: string, p: Placement, migrations: Migration[]): Promise<string[]> {
    const adminUrl = this.adminUrl(p.region);
    if (p.strategy === 'database') {
      const ident = checked(p.databaseName);
      return withClient(withDatabase(adminUrl, ident), async (c) => {
        const applied = await applyMigrations(c, migrations, { schema: 'public' });
        // Databases made before the router schema existed get it here.
        if (!(await hasRouterSchema(c))) await installRouterSchema(c, checked(p.roleName));
        return applied;
      });
    }
    const schema = p.strategy === 'row' ? 'shared' : checked(p.schemaName);
    return withClient(adminUrl, (c) => applyMigrations(c, migrations, { schema }));
  }

  async migrateMany(region: string, tenants: PlacedTenant[], catalogue: CataloguedMigration[]): Promise<Map<string, ApplyOutcome>> {
    const [shared, dedicated] = split(tenants);
    const [a, b] = await Promise.all([
      migrateSharedDatabase(this.adminUrl(region), shared, catalogue),
      eachDatabase(dedicated, (t) => migrateDatabase(() => this.migrate(t.tenantId, t.placement, catalogue))),
    ]);
    return new Map([...a, ...b]);
  }

  async revertMany(region: string, tenants: PlacedTenant[], migrations: CataloguedMigration[]): Promise<Map<string, RevertOutcome>> {
    const [shared, dedicated] = split(tenants);
    const adminUrl = this.adminUrl(region);
    const [a, b] = await Promise.all([
      revertSharedDatabase(adminUrl, shared, migrations),
      eachDatabase(dedicated, (t) => revertDatabase(withDatabase(adminUrl, checked(t.placement.databaseName)), migrations)),
    ]);
    return new Map([...a, ...b]);
  }

  async deprovision(tenantId: string, p: Placement, opts: { fence?: boolean } = {}): Promise<void> {
    const adminUrl = this.adminUrl(p.region);
    const ident = tenantIdent(tenantId);
    if (p.strategy === 'row') {
      await withClient(adminUrl, (c) => fenceTenant(c, tenantId, DELETED, () => deleteSharedRows(c, tenantId)));
    } else if (p.strategy === 'schema') {
      await withClient(adminUrl, (c) => fenceTenant(c, tenantId, DELETED, async () => {
        await c.query(`DROP SCHEMA IF EXISTS ${ident} CASCADE`);
        await c.query(`DROP ROLE IF EXISTS ${ident}`);
      }));
    } else {
      if (opts.fence !== false) await fenceDatabase(tenantId, () => this.databaseUrl(adminUrl, ident));
      const roles = await databaseRoles(tenantId, p);
      await withClient(adminUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
        for (const role of roles) await c.query(`DROP ROLE IF EXISTS ${role}`);
      });
    }
    const left = await this.leftovers(tenantId, p);
    if (leftoverCount(left) > 0) throw new Error(`deprovisioning tenant ${tenantId} left ${JSON.stringify(left)}`);
  }

  async leftovers(tenantId: string, p: Placement): Promise<Leftovers> {
    const ident = tenantIdent(tenantId);
    return withClient(this.adminUrl(p.region), async (c): Promise<Leftovers> => {
      if (p.strategy === 'row') return { rows: await countSharedRows(c, tenantId) };
      if (p.strategy === 'schema') {
        const roles = await count(c, 'SELECT count(*) AS n FROM pg_roles WHERE rolname = $1', ident);
        return { schemas: await count(c, 'SELECT count(*) AS n FROM pg_namespace WHERE nspname = $1', ident), roles };
      }
      const roles = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_roles WHERE rolname = ANY ($1::text[])', [await databaseRoles(tenantId, p)])).rows[0]?.n ?? 0);
      return { databases: await count(c, 'SELECT count(*) AS n FROM pg_database WHERE datname = $1', ident), roles };
    });
  }

  async setConnectionLimit(tenantId: string, p: Placement, limit: number): Promise<void> {
    tenantIdent(tenantId);
    if (p.strategy === 'row') return;
    // Roles are cluster-wide: a dedicated database's role lives in its region's cluster too.
    await withClient(this.adminUrl(p.region), (c) => c.query(connectionLimitSql(checked(p.roleName), limit)));
  }

  async unfence(tenantId: string, p: Placement): Promise<void> {
    tenantIdent(tenantId);
    // A dedicated database's fence went with the database.
    if (p.strategy === 'database') return;
    await withClient(this.adminUrl(p.region), (c) => removeFence(c, tenantId));
  }

  async ownerUrl(tenantId: string, p: Placement): Promise<string> {
    tenantIdent(tenantId);
    const adminUrl = this.adminUrl(p.region);
    return p.strategy === 'database' ? withDatabase(adminUrl, checked(p.databaseName)) : adminUrl;
  }

  /** The owner URL of the tenant's database, or null when it does not exist. */
  private async databaseUrl(adminUrl: string, ident: string): Promise<string | null> {
    const present = await withClient(adminUrl, (c) => exists(c, 'SELECT 1 FROM pg_database WHERE datname = $1', ident));
    return present ? withDatabase(adminUrl, ident) : null;
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

  private async databaseTenant(adminUrl: string, ident: string, role: string, migrations: Migration[]): Promise<string> {
    const password = randomPassword();
    const secret = passwordClause(await scramVerifier(password));
    await withClient(adminUrl, async (c) => {
      const verb = (await exists(c, 'SELECT 1 FROM pg_roles WHERE rolname = $1', role)) ? 'ALTER' : 'CREATE';
      await c.query(`${verb} ROLE ${role} ${RUNTIME_ROLE_ATTRIBUTES} ${secret}`);
      if (!(await exists(c, 'SELECT 1 FROM pg_database WHERE datname = $1', ident))) await c.query(`CREATE DATABASE ${ident}`);
      await c.query(`REVOKE ALL ON DATABASE ${ident} FROM PUBLIC`);
      await c.query(`GRANT CONNECT ON DATABASE ${ident} TO ${role}`);
    });
    await withClient(withDatabase(adminUrl, ident), async (c) => {
      await c.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
      await c.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`);
      await applyMigrations(c, migrations, { schema: 'public' });
      // Tables made before this role existed (a retry, or a database whose role was renamed).
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
      const ledger = await c.query<{ ok: boolean }>("SELECT to_regclass('public.schema_migrations') IS NOT NULL AS ok");
      if (ledger.rows[0]?.ok) await c.query(`REVOKE ALL ON public.schema_migrations FROM ${role}`);
      await installRouterSchema(c, role);
      await assertSafeRole(c, role);
    });
    const u = new URL(withDatabase(adminUrl, ident));
    u.username = role;
    u.password = password;
    return u.toString();
  }
}

/**
 * The login roles a dedicated database's deprovisioning drops: the placement's own (`t_<id>` for
 * databases made before roles were named by `runtimeRoleName`), or both names when no placement
 * was recorded (provisioning never completed, so no schema placement can share the name).
 */
async function databaseRoles(tenantId: string, p: Placement): Promise<string[]> {
  if (p.roleName) return [checked(p.roleName)];
  return [tenantIdent(tenantId), await runtimeRoleName(tenantId)];
}

/** The tenants of the region's shared database, and those with a database of their own. */
export function split(tenants: PlacedTenant[]): [PlacedTenant[], PlacedTenant[]] {
  return [tenants.filter((t) => t.placement.strategy !== 'database'), tenants.filter((t) => t.placement.strategy === 'database')];
}

function checked(ident: string | null): string {
  if (!ident || !/^(public|t_[0-9a-f]{32})$/.test(ident)) throw new Error('invalid placement identifier');
  return ident;
}

async function count(c: Client, sql: string, value: string): Promise<number> {
  return Number((await c.query<{ n: string }>(sql, [value])).rows[0]?.n ?? 0);
}
