/**
 * Taking a backup of one tenant (any isolation): claim (one at a time) → one consistent snapshot
 * of its rows (rows.ts) → JSON lines (format.ts) → gzip and AES-GCM with its data key (seal.ts)
 * → the bucket → the record completed with what it holds and the SHA-256 of the stored bytes.
 * A failure records the backup `failed` with its reason; nothing partial is ever `complete`.
 */
import { AppError } from '../errors.js';
import { appendAudit } from '../control/audit.js';
import { db } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { loadPlacement } from '../control/tenant-repo.js';
import type { TenantView } from '../control/schemas.js';
import { newWrappedKey, unwrapRaw } from '../tenant-keys/data-key.js';
import { prepareSession } from '../moves/copy.js';
import { withClient } from '../provisioning/pg-client.js';
import type { Placement } from '../provisioning/provisioner.js';
import { putObject, requireBucket } from './bucket.js';
import { encodeSnapshot } from './format.js';
import { readSnapshot, type SnapshotLimits } from './rows.js';
import { keyIdOf, sealBackup, sha256Hex } from './seal.js';
import { withTenantOperation } from '../operations/claim.js';
import { claimBackup, completeBackup, failBackup, TOO_LARGE, objectKey, wrappedKeyOf, type BackupKind, type BackupRecord } from './store.js';

/** Where a placement's tables are, on its owner connection. */
export const schemaOf = (p: Placement): string => {
  const s = p.strategy === 'row' ? 'shared' : p.schemaName;
  if (!s) throw new AppError(409, 'INVALID_STATE', 'the tenant has no storage yet');
  return s;
};

/** The tenant's data key (made now for a tenant from before migration 0013), with its id; null when it was destroyed. */
export async function tenantKey(s: ControlServices, tenantId: string, create: boolean): Promise<{ key: CryptoKey; keyId: string } | null> {
  let wrapped = await wrappedKeyOf(s.sql, tenantId);
  if (!wrapped && create) {
    // As a router does on first use (src/tenant-keys/key-store.ts): never for a tenant being deleted.
    const fresh = await newWrappedKey(s.masterKeys, tenantId);
    const [r] = await db(() => s.sql.query('SELECT tenant_key_ensure($1::uuid, $2) AS w', [tenantId, fresh])) as { w: string | null }[];
    wrapped = r?.w ?? null;
  }
  if (!wrapped) return null;
  const raw = await unwrapRaw(s.masterKeys, wrapped, tenantId);
  return { key: await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']), keyId: await keyIdOf(raw) };
}

/**
 * Takes a backup of `t` now; the completed record. It holds the tenant's one operation claim
 * (src/operations/claim.ts; 409 OPERATION_IN_PROGRESS while a move, restore or branch promotion
 * runs), and reads the placement only once it holds it, so a move cannot switch the tenant's
 * storage between the read of its placement and the snapshot.
 */
export async function takeBackup(s: ControlServices, t: TenantView, kind: BackupKind, actor = 'system:maintenance', requestId: string | null = null, limits: SnapshotLimits = {}): Promise<BackupRecord> {
  const bucket = requireBucket(s.backups);
  if (t.status !== 'active' && t.status !== 'suspended') throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}`);
  return withTenantOperation(s.sql, t.id, 'backup', () => takeClaimed(s, bucket, t, kind, actor, requestId, limits));
}

async function takeClaimed(s: ControlServices, bucket: R2Bucket, t: TenantView, kind: BackupKind, actor: string, requestId: string | null, limits: SnapshotLimits): Promise<BackupRecord> {
  const placement = await loadPlacement(s.sql, t.id);
  if (!placement) throw new AppError(409, 'INVALID_STATE', 'the tenant has no storage yet');
  const k = await tenantKey(s, t.id, true);
  if (!k) throw new AppError(409, 'BACKUP_KEY_DESTROYED', 'the tenant has no data key');
  const id = await claimBackup(s.sql, t.id, kind);
  try {
    const url = await s.provisioner.ownerUrl(t.id, placement);
    const snap = await withClient(url, async (c) => {
      await prepareSession(c, t.id);
      return readSnapshot(c, t.id, schemaOf(placement), limits);
    }, { statementTimeoutMs: 60_000 });
    const text = encodeSnapshot({ tenantId: t.id, backupId: id, takenAt: snap.takenAt, isolation: placement.strategy }, snap.tables, snap.digests);
    const bytes = await sealBackup(k.key, t.id, id, text);
    const sha256 = await sha256Hex(bytes);
    await putObject(bucket, objectKey(t.id, id), bytes, {
      tenantId: t.id, backupId: id, format: 'tenant-backup-v1', takenAt: snap.takenAt, keyId: k.keyId, sha256, kind,
    });
    const tables = snap.tables.map((x) => ({ name: x.name, key: x.key, rows: x.rows.length, digest: snap.digests[x.name]?.digest ?? '' }));
    const rec = await completeBackup(s.sql, id, {
      takenAt: snap.takenAt, isolation: placement.strategy, tables, rows: tables.reduce((n, x) => n + x.rows, 0), bytes: bytes.byteLength, sha256, keyId: k.keyId,
    });
    // A manual backup is audited by its admin call (the route's entry); a scheduled one here.
    if (kind === 'scheduled') await appendAudit(s.sql, { actor, action: 'tenant.backup', tenantId: t.id, requestId, detail: { backupId: id, kind, rows: rec.rows, bytes: rec.bytes, takenAt: rec.takenAt } });
    return rec;
  } catch (err) {
    // A tenant too large for one logical backup is recorded as such: the schedule backs off a whole interval.
    const why = (err instanceof AppError && err.status === 413 ? `${TOO_LARGE}: ` : '') + String((err as Error)?.message ?? err).slice(0, 480);
    await failBackup(s.sql, id, why).catch(() => {});
    if (err instanceof AppError) throw err;
    console.error(JSON.stringify({ level: 'error', msg: 'backup failed', tenant: t.id, backup: id, error: why.slice(0, 200) }));
    throw new AppError(503, 'BACKUP_FAILED', 'the backup failed; nothing was stored as complete', { 'Retry-After': '30' });
  }
}
