/**
 * The tier's connection_limit on the tenant's runtime role (`ALTER ROLE … CONNECTION LIMIT n`):
 * set at provisioning, again when a tenant's tier or overrides change, and reconciled by the
 * scheduled storage run (a template change reaches its tenants that way). `row` tenants share the
 * router's role: their limit is only the router's bound on interactive transactions
 * (`tenant.limits.connections`).
 */
import { db, type Sql } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { loadPlacement } from '../control/tenant-repo.js';

/** The effective connection limit (template value, or the tenant's override) of tenant `id`, or null when there is no such tenant. */
export async function connectionLimitOf(sql: Sql, id: string): Promise<number | null> {
  const rows = await db(() => sql.query(
    `SELECT coalesce((t.overrides->>'connection_limit')::int, tr.connection_limit) AS n
       FROM tenants t JOIN tiers tr ON tr.name = t.tier WHERE t.id = $1`, [id])) as { n: number }[];
  return rows[0] ? Number(rows[0].n) : null;
}

/**
 * Applies the tenant's current connection limit to its role. A failure is logged, not thrown:
 * the change that called for it stands, and the next storage run sets it.
 */
export async function applyConnectionLimit(s: ControlServices, id: string): Promise<boolean> {
  try {
    const [limit, placement] = await Promise.all([connectionLimitOf(s.sql, id), loadPlacement(s.sql, id)]);
    if (limit === null || !placement || placement.strategy === 'row') return false;
    await s.provisioner.setConnectionLimit(id, placement, limit);
    return true;
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'connection limit not applied; the next storage run retries', tenant: id, error: String((err as Error)?.message ?? err).slice(0, 200) }));
    return false;
  }
}
