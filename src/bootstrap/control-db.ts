/**
 * The control database: its migrations, the router's control role (login, owns nothing, cannot
 * bypass RLS) with what it may read and write and nothing more (verified: a role that can read
 * the audit log or the idempotency keys, by any grant, is reported unsafe), and the tenant-migration catalogue seeded with the
 * package's tenant migrations (existing entries are left alone: the catalogue is forward-only).
 */
import type { Client } from '@neondatabase/serverless';
import { applyMigrations, sha256, type Migration } from '../migrations/runner.js';
import { withClient } from '../provisioning/pg-client.js';
import { ensureDatabase } from './database.js';
import { ensureLoginRole, ensureMembership, retireIdleLogins, unsafeReason, type Outcome } from './roles.js';
import { CONTROL_GRANTEE, controlGrantsSql, EXCESS_CONTROL_PRIVILEGES_SQL, ROUTER_CONTROL_READS, ROUTER_CONTROL_WRITES } from './sql.js';
import type { DatabaseTarget } from './targets.js';
import { count, type ReportLine } from './report.js';

/** Prepares the control database; the report's lines for it and its role. */
export async function bootstrapControl(t: DatabaseTarget, control: Migration[], tenant: Migration[], opts: { retireIdle?: boolean } = {}): Promise<ReportLine[]> {
  const created = await ensureDatabase(t.ownerUrl, t.database);
  return withClient(t.ownerUrl, async (c) => {
    // The role exists before the migrations, which grant CONTROL_GRANTEE what the router needs.
    const role = await ensureLoginRole(c, t.role, t.routerUrl);
    // A login role of the pair is a member of its group, which holds the grants and is (or is a member of) the grantee.
    if (t.group !== t.role.name) await ensureMembership(c, t.group, t.role.name);
    const grantee = t.group !== CONTROL_GRANTEE && await ensureMembership(c, CONTROL_GRANTEE, t.group);
    const applied = await applyMigrations(c, control, { schema: 'public' });
    // A single role holds its grants itself; a login role of the pair inherits the group's.
    for (const sql of controlGrantsSql(t.group)) await c.query(sql);
    const seeded = await seedCatalogue(c, tenant);
    const retired = opts.retireIdle ? await retireIdleLogins(c, t) : [];
    const why = await unsafeReason(c, t.role.name) ?? await excessPrivileges(c, t.role.name);
    const where = `control database ${t.database}`;
    const changes = [applied.length ? `${count(applied.length, 'migration')} applied` : '', seeded ? `${count(seeded, 'catalogue entry', 'catalogue entries')} added` : ''].filter(Boolean);
    const db: Outcome = created ? 'created' : changes.length ? 'updated' : 'up to date';
    return [
      { kind: 'database', name: t.database, where, outcome: db, detail: changes.join(', ') },
      { kind: 'role', name: t.role.name, where, outcome: role, detail: [t.group !== t.role.name ? `member of ${t.group}` : '', grantee ? (t.group === t.role.name ? `member of ${CONTROL_GRANTEE}` : `${t.group} member of ${CONTROL_GRANTEE}`) : ''].filter(Boolean).join('; ') },
      ...retired.map((name) => ({ kind: 'role' as const, name, where, outcome: 'login disabled' as const, detail: `idle: the router logs in as ${t.role.name}` })),
      { kind: 'verify', name: t.role.name, where, outcome: why ? 'unsafe' : 'safe', detail: why ?? '' },
    ];
  });
}

/** Why `role` may do more in the control database than the router needs, or null. */
async function excessPrivileges(c: Client, role: string): Promise<string | null> {
  const r = await c.query<{ excess: string }>(EXCESS_CONTROL_PRIVILEGES_SQL, [role, [...ROUTER_CONTROL_READS], [...ROUTER_CONTROL_WRITES]]);
  const excess = r.rows[0]?.excess ?? '';
  return excess ? `role ${role} may read or write control tables the router does not use: ${excess.slice(0, 300)}` : null;
}

/** Adds the tenant migrations the catalogue does not have yet; how many. */
async function seedCatalogue(c: Client, tenant: Migration[]): Promise<number> {
  let added = 0;
  for (const m of tenant) {
    const r = await c.query('INSERT INTO tenant_migration_catalog (name, sql, checksum) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
      [m.name, m.sql, await sha256(m.sql)]);
    added += r.rowCount ?? 0;
  }
  return added;
}
