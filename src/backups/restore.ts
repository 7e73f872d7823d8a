/**
 * Restoring a backup (backup.ts) into the tenant it was taken of, or into a new tenant.
 *
 *   find it (the tenant's own, complete) → its data key (gone: 409 BACKUP_KEY_DESTROYED) → the
 *   object (SHA-256 as recorded, opens with the key under AAD tenant+backup, parses: else 409
 *   BACKUP_CORRUPT, nothing touched) → the target's storage: under the write fence (writes answer
 *   503 TENANT_MIGRATING, reads go on), in one transaction, the tenant's rows replaced by the
 *   backup's and every table's count and digest checked (rows.ts) → commit, fence released.
 *
 * Into a new tenant: the tenant is created and provisioned through the ordinary path
 * (insertTenant, provisionTenant; its own data key), then filled the same way with every row's
 * `tenant_id` rewritten to the new id (and, in the very tables its source lives in, every key to a
 * new uuid derived from the new id and the old key); a fill that fails deletes the new tenant again.
 */
import { AppError } from '../errors.js';
import { appendAudit } from '../control/audit.js';
import { deleteTenant } from '../control/deletion.js';
import { insertTenant } from '../control/lifecycle.js';
import { provisionTenant } from '../control/provisioning.js';
import type { ControlServices } from '../control/services.js';
import type { TenantView } from '../control/schemas.js';
import { findTenant, loadPlacement } from '../control/tenant-repo.js';
import { prepareSession } from '../moves/copy.js';
import { inTransaction, withClient } from '../provisioning/pg-client.js';
import { withWriteFence } from '../provisioning/router-objects.js';
import { getObject, requireBucket } from './bucket.js';
import { schemaOf, tenantKey } from './backup.js';
import { decodeSnapshot, type BackupHeader } from './format.js';
import { replaceRows } from './rows.js';
import { CorruptBackupError, openBackup, sha256Hex } from './seal.js';
import { findBackup, objectKey } from './store.js';

export interface NewTenantSpec { slug: string; name?: string; tier?: string; region?: string; isolation?: 'row' | 'schema' | 'database' }
export type RestoreTarget = 'same' | { newTenant: NewTenantSpec };

export interface RestoreReport {
  backupId: string;
  sourceTenantId: string;
  tenantId: string;
  into: 'same' | 'new';
  takenAt: string;
  tables: { name: string; rows: number }[];
  deleted: number;
  inserted: number;
  /** How long the target's writes were fenced (the replace and its check). */
  fenceMs: number;
  /** From the request to the restored rows committed, bucket read and decryption included. */
  durationMs: number;
}

const corrupt = (why: string) => new AppError(409, 'BACKUP_CORRUPT', `the backup cannot be restored: ${why}; nothing was changed`);

/** The backup's header and rows, checked end to end; nothing is changed by this. */
export async function openStoredBackup(s: ControlServices, tenantId: string, backupId: string): Promise<{ header: BackupHeader; rows: Map<string, string[]> }> {
  const bucket = requireBucket(s.backups);
  const rec = await findBackup(s.sql, tenantId, backupId);
  if (!rec) throw new AppError(404, 'BACKUP_NOT_FOUND', 'no such backup of this tenant');
  if (rec.status !== 'complete') throw new AppError(409, 'INVALID_STATE', `the backup is ${rec.status}`);
  const k = await tenantKey(s, tenantId, false);
  if (!k) throw new AppError(409, 'BACKUP_KEY_DESTROYED', "the tenant's data key was destroyed (deleted or erased): its backups can never be opened");
  if (rec.keyId && rec.keyId !== k.keyId) throw new AppError(409, 'BACKUP_KEY_DESTROYED', "the backup was sealed with a data key the tenant no longer has");
  const bytes = await getObject(bucket, objectKey(tenantId, backupId));
  if (!bytes) throw corrupt('its object is missing from the bucket');
  if ((await sha256Hex(bytes)) !== rec.sha256) throw corrupt('its object is not the one stored (SHA-256 differs)');
  let text: string;
  try { text = await openBackup(k.key, tenantId, backupId, bytes); } catch (err) {
    if (err instanceof CorruptBackupError) throw corrupt(err.message);
    throw corrupt('it does not decompress');
  }
  try {
    const { header, tables } = decodeSnapshot(text);
    if (header.tenantId !== tenantId || header.backupId !== backupId) throw new Error('it names another tenant or backup');
    return { header, rows: tables };
  } catch (err) {
    throw corrupt(String((err as Error)?.message ?? err).slice(0, 200));
  }
}

/** Restores backup `backupId` of tenant `t` into `target`. */
export async function restoreBackup(s: ControlServices, t: TenantView, backupId: string, target: RestoreTarget, who: { actor: string; requestId: string | null }): Promise<RestoreReport> {
  const t0 = Date.now();
  if (t.status !== 'active' && t.status !== 'suspended') throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}`);
  const { header, rows } = await openStoredBackup(s, t.id, backupId);
  const into = target === 'same' ? t : await createTarget(s, t, target.newTenant, who);
  try {
    const placement = await loadPlacement(s.sql, into.id);
    if (!placement) throw new AppError(409, 'INVALID_STATE', 'the target tenant has no storage');
    // A new tenant in the source's very tables (both `row` in one region) needs keys of its own.
    const source = into === t ? null : await loadPlacement(s.sql, t.id);
    const rewrite = into === t ? null : { sourceId: t.id, newKeys: source?.strategy === 'row' && placement.strategy === 'row' && source.region === placement.region };
    const url = await s.provisioner.ownerUrl(into.id, placement);
    const schema = schemaOf(placement);
    const done = await withClient(url, async (c) => {
      await prepareSession(c, into.id);
      const fencedAt = Date.now();
      const r = await withWriteFence(c, into.id, () => inTransaction(c, () => replaceRows(c, into.id, schema, header.tables, rows, rewrite)));
      return { ...r, fenceMs: Date.now() - fencedAt };
    }, { statementTimeoutMs: 120_000 });
    const report: RestoreReport = {
      backupId, sourceTenantId: t.id, tenantId: into.id, into: target === 'same' ? 'same' : 'new', takenAt: header.takenAt,
      tables: header.tables.map((x) => ({ name: x.name, rows: x.rows })), ...done, durationMs: Date.now() - t0,
    };
    return report;
  } catch (err) {
    if (into !== t) await deleteTenant(s, into).catch((e: unknown) => console.error(JSON.stringify({ level: 'error', msg: 'restore: new tenant not deleted after a failed fill', tenant: into.id, error: String(e).slice(0, 200) })));
    if (err instanceof AppError) throw err;
    const why = String((err as Error)?.message ?? err).slice(0, 300);
    console.error(JSON.stringify({ level: 'error', msg: 'restore failed', tenant: into.id, backup: backupId, error: why }));
    throw new AppError(503, 'RESTORE_FAILED', 'the restore failed and was rolled back; the tenant\'s rows are as they were', { 'Retry-After': '30' });
  }
}

/** The new tenant, created and provisioned like POST /admin/v1/tenants (settings not given are the source's). */
async function createTarget(s: ControlServices, t: TenantView, spec: NewTenantSpec, who: { actor: string; requestId: string | null }): Promise<TenantView> {
  const id = await insertTenant(s, {
    slug: spec.slug, name: spec.name, tier: spec.tier ?? t.tier, region: spec.region ?? t.region,
    residency: (t.residency ?? null) as 'EU' | 'US' | 'UK' | 'APAC' | null, isolation: spec.isolation ?? (t.isolation as 'row' | 'schema' | 'database'),
  }, s.config.TENANT_BASE_DOMAINS);
  await appendAudit(s.sql, { actor: who.actor, action: 'tenant.create', tenantId: id, requestId: who.requestId, detail: { slug: spec.slug, restoredFrom: t.id } });
  await provisionTenant(s, (await findTenant(s.sql, id))!, true);
  return (await findTenant(s.sql, id))!;
}
