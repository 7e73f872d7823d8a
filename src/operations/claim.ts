/**
 * One data operation per tenant at a time (migration 0018): moves, restores, backups and branch
 * promotions each read the tenant's placement and then its storage; run side by side, one could
 * snapshot a source another has just emptied, or restore rows into storage the tenant has left.
 * `withTenantOperation` claims the tenant's row in `tenant_operations` (an expired claim, whose
 * holder died, is taken over), runs `fn`, and releases it whatever `fn` did. A tenant already
 * claimed is refused 409 OPERATION_IN_PROGRESS, naming what holds it, with Retry-After. A
 * deletion holds the claim while it marks the tenant and removes its storage: it is refused while
 * an operation runs, and an operation that claims after it finds the tenant deleting and stops.
 */
import { AppError } from '../errors.js';
import { db, type Sql } from '../control/db.js';

export type TenantOperation = 'move' | 'restore' | 'backup' | 'branch' | 'delete';

/** How long a claim stands without its holder releasing it (a holder that died). */
export const CLAIM_SECONDS = 3600;

/** The token of a new claim on `tenantId`, or null with what holds it. */
export async function claimTenant(sql: Sql, tenantId: string, kind: TenantOperation): Promise<{ token: string } | { heldBy: string }> {
  const token = crypto.randomUUID();
  const won = await db(() => sql.query(
    `INSERT INTO tenant_operations (tenant_id, kind, token, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))
     ON CONFLICT (tenant_id) DO UPDATE SET kind = excluded.kind, token = excluded.token, started_at = now(), expires_at = excluded.expires_at
       WHERE tenant_operations.expires_at < now()
     RETURNING token`, [tenantId, kind, token, CLAIM_SECONDS])) as { token: string }[];
  if (won.length > 0) return { token };
  const [held] = await db(() => sql.query('SELECT kind FROM tenant_operations WHERE tenant_id = $1', [tenantId])) as { kind: string }[];
  return { heldBy: held?.kind ?? 'another operation' };
}

/** Gives a claim back (only the holder's own token releases it). */
export async function releaseTenant(sql: Sql, tenantId: string, token: string): Promise<void> {
  await db(() => sql.query('DELETE FROM tenant_operations WHERE tenant_id = $1 AND token = $2', [tenantId, token]));
}

/** Runs `fn` holding the tenant's one operation claim; 409 OPERATION_IN_PROGRESS while another holds it. */
export async function withTenantOperation<T>(sql: Sql, tenantId: string, kind: TenantOperation, fn: () => Promise<T>): Promise<T> {
  const claim = await claimTenant(sql, tenantId, kind);
  if ('heldBy' in claim) {
    throw new AppError(409, 'OPERATION_IN_PROGRESS', `a ${claim.heldBy} of this tenant is under way; retry when it has finished`, { 'Retry-After': '30' });
  }
  try {
    // The caller read the tenant before claiming: a deletion that held the claim until a moment
    // ago has marked it deleting (or removed it) since. Only a deletion goes on from there.
    if (kind !== 'delete') {
      const [now] = await db(() => sql.query('SELECT status FROM tenants WHERE id = $1', [tenantId])) as { status: string }[];
      if (!now) throw new AppError(404, 'TENANT_NOT_FOUND', 'tenant not found');
      if (now.status !== 'active' && now.status !== 'suspended') throw new AppError(409, 'INVALID_STATE', `tenant is ${now.status}`);
    }
    return await fn();
  } finally {
    await releaseTenant(sql, tenantId, claim.token).catch((err: unknown) =>
      console.warn(JSON.stringify({ level: 'warn', msg: 'tenant operation claim not released (it expires)', tenant: tenantId, error: String(err).slice(0, 200) })));
  }
}
