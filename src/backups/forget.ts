/**
 * Removing every backup of a tenant (its erase, and the purge after its deletion): the objects
 * under `backups/<tenant id>/` in the bucket (listed, so an object without a row goes too), then
 * the rows. `backupsLeft` is what the erase's verification reports (must be 0).
 */
import { db } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { deleteObjects, listTenantObjects } from './bucket.js';

/** The tenant's backup objects (0 when no bucket is bound) and rows. */
export async function backupsLeft(s: ControlServices, tenantId: string): Promise<{ objects: number; rows: number }> {
  const objects = s.backups ? (await listTenantObjects(s.backups, tenantId)).length : 0;
  const [r] = await db(() => s.sql.query('SELECT count(*)::int AS n FROM tenant_backups WHERE tenant_id = $1', [tenantId])) as { n: number }[];
  return { objects, rows: r?.n ?? 0 };
}

/** Deletes the tenant's backup objects and rows; how many objects were deleted. */
export async function forgetBackups(s: ControlServices, tenantId: string): Promise<number> {
  let deleted = 0;
  if (s.backups) {
    const keys = await listTenantObjects(s.backups, tenantId);
    await deleteObjects(s.backups, keys);
    deleted = keys.length;
  }
  await db(() => s.sql.query('DELETE FROM tenant_backups WHERE tenant_id = $1', [tenantId]));
  return deleted;
}
