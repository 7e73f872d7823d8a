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
import { withTenantOperation } from '../operations/claim.js';
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

/** Whether any row holds a value sealed with the tenant's key (src/tenant-keys/field-seal.ts: a JSON string `tk1.<iv>.<ct>`). */
export const holdsSealedValues = (rows: Map<string, string[]>): boolean => {
  const sealed = /"tk1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}"/;
  for (const texts of rows.values()) for (const r of texts) if (sealed.test(r)) return true;
  return false;
};

/**
 * Restores backup `backupId` of tenant `t` into `target`, holding `t`'s one operation claim
 * (409 OPERATION_IN_PROGRESS while a move, backup or branch promotion runs); the placements are
 * read only once it is held, so a move cannot switch the tenant between their read and the fill.
 */
export async function restoreBackup(s: ControlServices, t: TenantView, backupId: string, target: RestoreTarget, who: { actor: string; requestId: string | null }): Promise<RestoreReport> {
  const t0 = Date.now();
  if (t.status !== 'active' && t.status !== 'suspended') throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}`);
  return withTenantOperation(s.sql, t.id, 'restore', () => restoreClaimed(s, t, backupId, target, who, t0));
}

async function restoreClaimed(s: ControlServices, t: TenantView, backupId: string, target: RestoreTarget, who: { actor: string; requestId: string | null }, t0: number): Promise<RestoreReport> {
  const { header, rows } = await openStoredBackup(s, t.id, backupId);
  if (target !== 'same' && holdsSealedValues(rows)) {
    throw new AppError(409, 'BACKUP_HAS_SEALED_VALUES', "the backup holds values sealed with the tenant's data key (tk1.…), which cannot open in a new tenant: restore it into the tenant itself; nothing was changed");
  }
  let into: TenantView | null = target === 'same' ? t : null;
  // The new tenant's id as soon as its row exists: any failure from then on deletes it again.
  const made: { id?: string } = {};
  try {
    if (!into) into = await createTarget(s, t, (target as { newTenant: NewTenantSpec }).newTenant, who, made);
    const placement = await loadPlacement(s.sql, into.id);
    if (!placement) throw new AppError(409, 'INVALID_STATE', 'the target tenant has no storage');
    // A new tenant always gets keys of its own (uuids derived from its id and the old key): in the
    // source's very tables they would collide now, elsewhere with a later move of the source there.
    const rewrite = into === t ? null : { sourceId: t.id, newKeys: true };
    const url = await s.provisioner.ownerUrl(into.id, placement);
    const schema = schemaOf(placement);
    const id = into.id;
    const done = await withClient(url, async (c) => {
      await prepareSession(c, id);
      const fencedAt = Date.now();
      const r = await withWriteFence(c, id, () => inTransaction(c, () => replaceRows(c, id, schema, header.tables, rows, rewrite)));
      return { ...r, fenceMs: Date.now() - fencedAt };
    }, { statementTimeoutMs: 120_000 });
    const report: RestoreReport = {
      backupId, sourceTenantId: t.id, tenantId: into.id, into: target === 'same' ? 'same' : 'new', takenAt: header.takenAt,
      tables: header.tables.map((x) => ({ name: x.name, rows: x.rows })), ...done, durationMs: Date.now() - t0,
    };
    return report;
  } catch (err) {
    await discardTarget(s, made);
    if (err instanceof AppError) throw err;
    const why = String((err as Error)?.message ?? err).slice(0, 300);
    console.error(JSON.stringify({ level: 'error', msg: 'restore failed', tenant: into?.id ?? t.id, backup: backupId, error: why }));
    throw new AppError(503, 'RESTORE_FAILED', 'the restore failed and was rolled back; the tenant\'s rows are as they were', { 'Retry-After': '30' });
  }
}

/** After a failed restore into a new tenant: deletes it, made whole or only half (created, its provisioning failed). */
async function discardTarget(s: ControlServices, made: { id?: string }): Promise<void> {
  if (!made.id) return;
  try {
    const t = await findTenant(s.sql, made.id);
    if (t) await deleteTenant(s, t);
  } catch (e) {
    console.error(JSON.stringify({ level: 'error', msg: 'restore: new tenant not deleted after a failed restore', tenant: made.id, error: String(e).slice(0, 200) }));
  }
}

/** The new tenant, created and provisioned like POST /admin/v1/tenants (settings not given are the source's). */
async function createTarget(s: ControlServices, t: TenantView, spec: NewTenantSpec, who: { actor: string; requestId: string | null }, made: { id?: string }): Promise<TenantView> {
  const id = await insertTenant(s, {
    slug: spec.slug, name: spec.name, tier: spec.tier ?? t.tier, region: spec.region ?? t.region,
    residency: (t.residency ?? null) as 'EU' | 'US' | 'UK' | 'APAC' | null, isolation: spec.isolation ?? (t.isolation as 'row' | 'schema' | 'database'),
  }, s.config.TENANT_BASE_DOMAINS);
  made.id = id;
  await appendAudit(s.sql, { actor: who.actor, action: 'tenant.create', tenantId: id, requestId: who.requestId, detail: { slug: spec.slug, restoredFrom: t.id } });
  await provisionTenant(s, (await findTenant(s.sql, id))!, true);
  return (await findTenant(s.sql, id))!;
}
