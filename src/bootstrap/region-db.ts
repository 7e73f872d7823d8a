/**
 * A region's shared database: the router's role, the `shared` schema of row tenants with the
 * tenant migrations (tables with forced RLS), and the `router` schema (fences, router.enter).
 */
import type { Client } from '@neondatabase/serverless';
import { applyMigrations, type Migration } from '../migrations/runner.js';
import { withClient } from '../provisioning/pg-client.js';
import { installRouterSchema } from '../provisioning/router-objects.js';
import { ensureDatabase } from './database.js';
import { ensureLoginRole, ensureMembership, retireIdleLogins, unsafeReason, type Outcome } from './roles.js';
import { sharedGrantsSql, sharedSchemaSql } from './sql.js';
import type { DatabaseTarget } from './targets.js';
import { count, roleDetail, type ReportLine } from './report.js';

/** Prepares one region's shared database; the report's lines for it and its role. */
export async function bootstrapRegion(region: string, t: DatabaseTarget, tenant: Migration[], opts: { retireIdle?: boolean } = {}): Promise<ReportLine[]> {
  const created = await ensureDatabase(t.ownerUrl, t.database);
  return withClient(t.ownerUrl, async (c) => {
    const role = await ensureLoginRole(c, t.role, t.routerUrl);
    // The grants go to the group (ROUTER_ROLE, what the provisioners grant tenant roles to); a login
    // role of the pair inherits them as its member.
    if (t.group !== t.role.name) await ensureMembership(c, t.group, t.role.name);
    const hadSchemas = await schemasPresent(c);
    for (const sql of sharedSchemaSql(t.group)) await c.query(sql);
    const applied = await applyMigrations(c, tenant, { schema: 'shared' });
    for (const sql of sharedGrantsSql(t.group)) await c.query(sql);
    await installRouterSchema(c, t.group);
    const retired = opts.retireIdle ? await retireIdleLogins(c, t) : [];
    const why = await unsafeReason(c, t.role.name);
    const where = `region ${region} database ${t.database}`;
    const changes = [hadSchemas ? '' : 'shared and router schemas', applied.length ? `${count(applied.length, 'migration')} applied` : ''].filter(Boolean);
    const db: Outcome = created ? 'created' : changes.length ? 'updated' : 'up to date';
    return [
      { kind: 'database', name: t.database, where, outcome: db, detail: changes.join(', ') },
      { kind: 'role', name: t.role.name, where, outcome: role, detail: roleDetail(t) },
      ...retired.map((name) => ({ kind: 'role' as const, name, where, outcome: 'login disabled' as const, detail: `idle: the router logs in as ${t.role.name}` })),
      { kind: 'verify', name: t.role.name, where, outcome: why ? 'unsafe' : 'safe', detail: why ?? '' },
    ];
  });
}

async function schemasPresent(c: Client): Promise<boolean> {
  const { rows } = await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_namespace WHERE nspname IN ('shared', 'router')");
  return Number(rows[0]?.n) === 2;
}
