/**
 * Erasure (GDPR art. 17) of one tenant: everything deletion does (deletion.ts: mark `deleting`,
 * custom hostnames, storage fenced and dropped, control rows, the data key with them), and then
 * what deletion keeps on purpose: its usage rows and billing archive, the kept answers of
 * idempotent calls about it, its TenantGuard state, its routers' cache keys, and the storage
 * fence's pending purge (lifted now when its grace is 0 or over, else at its time). The data key
 * goes with the tenant's row (ON DELETE CASCADE): crypto-shredding, so a value sealed with it
 * (c.var.crypto) that survives anywhere, in a backup or a log, can never be opened again.
 *
 * The receipt says what was removed, store by store, then what a fresh scan of every store finds
 * left (all zeros, or the erase says so); it is signed (signing.ts) and appended to the audit
 * log. The audit log keeps its entries about the tenant: it is hash-chained evidence (an entry
 * removed breaks the chain), and what it records is what was done to the tenant, not its data.
 *
 * Repeating an erase continues where a failed one stopped; a tenant already deleted (archived)
 * can still be erased by id.
 */
import { AppError } from '../errors.js';
import { leftoverCount, type Leftovers, type Placement } from '../provisioning/provisioner.js';
import { guardStub } from '../quota/rate-limiter.js';
import type { TenantGuard } from '../quota/tenant-guard.js';
import { appendAudit } from '../control/audit.js';
import { db } from '../control/db.js';
import { deleteTenant, findArchived } from '../control/deletion.js';
import { settlePurge, type PendingPurge } from '../control/purge.js';
import type { ControlServices } from '../control/services.js';
import { findTenant, loadPlacement, lookupKeys } from '../control/tenant-repo.js';
import type { LookupKey } from '../tenancy/tenant.js';
import { signDocument, type Signature } from './signing.js';
import { countControlRows } from './stores.js';
import { backupsLeft, forgetBackups } from '../backups/forget.js';

/** How long an erase waits for a purge another runner claimed (it takes a second or two). */
const CLAIMED_WAIT_MS = 15_000;

export type GuardOutcome = 'erased' | 'empty' | 'not-bound' | 'unreachable';

export interface GuardAccess { ns?: DurableObjectNamespace<TenantGuard>; jurisdictions: boolean }

export interface ErasureReceipt {
  type: 'tenant-erasure';
  tenantId: string;
  slug: string;
  erasedAt: string;
  /** What was there before, per store (control tables by name; `storage` the provisioner's objects and `backupObjects`, the backups in the bucket). */
  removed: { control: Record<string, number>; storage: Leftovers; guard: GuardOutcome; cacheKeys: number };
  /** The data key is gone: every value sealed with it is unreadable from now on. */
  keyDestroyed: boolean;
  /** When the tenant storage's fence is lifted (null: lifted by this erase). */
  fencePendingUntil: string | null;
  /** A fresh scan after the erase: what is left, per store (all 0 when complete). */
  verification: { control: Record<string, number>; storage: Leftovers; complete: boolean };
  signature: Signature;
}

/** Erases tenant `ref` (id or slug; a deleted tenant by id); the signed receipt, also in the audit log. */
export async function eraseTenant(s: ControlServices, ref: string, guard: GuardAccess, who: { actor: string; requestId: string | null }): Promise<ErasureReceipt> {
  const live = await findTenant(s.sql, ref);
  const archived = live ? null : await findArchived(s.sql, ref);
  if (!live && !archived) throw new AppError(404, 'TENANT_NOT_FOUND', 'no such tenant');
  const id = live?.id ?? archived!.id;
  const slug = live?.slug ?? archived!.slug;
  const [j] = await db(() => s.sql.query('SELECT guard_jurisdiction AS g FROM tenants WHERE id = $1', [id])) as { g: 'eu' | 'global' }[];
  const guardJurisdiction = j?.g ?? (await pendingJurisdiction(s, id));
  const keys: LookupKey[] = live ? lookupKeys(live) : [{ kind: 'id', value: id }, { kind: 'slug', value: slug }];
  const placement = (live ? await loadPlacement(s.sql, id) : null) ?? await pendingPlacement(s, id);

  const control = await countControlRows(s.sql, id);
  const storage = { ...(placement ? await s.provisioner.leftovers(id, placement) : {}), backupObjects: (await backupsLeft(s, id)).objects };
  // Deletion first: routers stop serving it, its storage is fenced and dropped, its rows and key go.
  if (live) await deleteTenant(s, live);
  const guardOutcome = await eraseGuard(guard, { id, guardJurisdiction });
  await db(() => s.sql.transaction([
    s.sql.query('DELETE FROM usage_flushes WHERE tenant_id = $1::uuid', [id]),
    s.sql.query('DELETE FROM tenant_archive WHERE id = $1::uuid', [id]),
    s.sql.query('DELETE FROM alert_baselines WHERE tenant_id = $1::uuid', [id]),
    s.sql.query('DELETE FROM alert_snapshots WHERE tenant_id = $1', [id]),
    s.sql.query('DELETE FROM tenant_operations WHERE tenant_id = $1::uuid', [id]),
    s.sql.query("DELETE FROM idempotency_keys WHERE strpos(path, $1) > 0 OR strpos(coalesce(body, ''), $1) > 0", [id]),
  ]));
  // Its backups: objects in the bucket and their rows (unreadable already: the key went with the tenant).
  await forgetBackups(s, id);
  const fencePendingUntil = await purgeNowIfDue(s, id);
  await s.cache.forget?.(keys);

  const after = await countControlRows(s.sql, id);
  const left = { ...(placement ? await s.provisioner.leftovers(id, placement) : {}), backupObjects: (await backupsLeft(s, id)).objects };
  // The pending purge is the one thing allowed to remain while the fence's grace runs.
  const remaining = Object.entries(after).filter(([k]) => k !== 'pending_unfences' || fencePendingUntil === null).reduce((n, [, v]) => n + v, 0);
  const receipt = await signDocument(s.config.MASTER_KEY, {
    type: 'tenant-erasure' as const, tenantId: id, slug, erasedAt: new Date().toISOString(),
    removed: { control, storage, guard: guardOutcome, cacheKeys: s.cache.forget ? keys.length : 0 },
    keyDestroyed: after.tenant_keys === 0,
    fencePendingUntil,
    verification: { control: after, storage: left, complete: remaining === 0 && leftoverCount(left) === 0 && after.tenant_keys === 0 },
  });
  await appendAudit(s.sql, { actor: who.actor, action: 'tenant.erased', tenantId: id, requestId: who.requestId, detail: { receipt } });
  return receipt;
}

/** Clears the tenant's TenantGuard (state and alarm), when the control plane has the binding. */
async function eraseGuard(g: GuardAccess, tenant: { id: string; guardJurisdiction: 'eu' | 'global' }): Promise<GuardOutcome> {
  if (!g.ns) return 'not-bound';
  try {
    const r = await withTimeout(guardStub(g.ns, tenant, g.jurisdictions).forgetTenant(), 5_000);
    return r.hadState ? 'erased' : 'empty';
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'erase: tenant guard unreachable', tenant: tenant.id, error: String(err).slice(0, 200) }));
    return 'unreachable';
  }
}

/** Lifts the storage fence now if its grace is over (PURGE_GRACE_SECONDS 0 included); else when it will be. */
async function purgeNowIfDue(s: ControlServices, id: string): Promise<string | null> {
  const rows = await db(() => s.sql.query(
    `UPDATE pending_unfences SET due_at = now() + interval '5 minutes', attempts = attempts + 1 WHERE tenant_id = $1 AND due_at <= now()
     RETURNING tenant_id, slug, placement, attempts`, [id])) as PendingPurge[];
  if (rows[0] && await settlePurge(s, rows[0])) return null;
  // A maintenance run may have claimed it first (its grace was over): give it a moment to finish.
  const until = Date.now() + (rows[0] ? 0 : CLAIMED_WAIT_MS);
  for (;;) {
    const [pending] = await db(() => s.sql.query(
      'SELECT due_at, attempts > 0 AND created_at + make_interval(secs => $2) <= now() AS claimed FROM pending_unfences WHERE tenant_id = $1',
      [id, s.config.PURGE_GRACE_SECONDS])) as { due_at: string; claimed: boolean }[];
    if (!pending) return null;
    if (!pending.claimed || Date.now() >= until) return new Date(pending.due_at).toISOString();
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function pendingPlacement(s: ControlServices, id: string): Promise<Placement | null> {
  const [r] = await db(() => s.sql.query('SELECT placement FROM pending_unfences WHERE tenant_id = $1', [id])) as { placement: Placement }[];
  return r?.placement ?? null;
}

async function pendingJurisdiction(_s: ControlServices, _id: string): Promise<'eu' | 'global'> {
  // A deleted tenant's guard jurisdiction is not kept; its guard cleared itself once its usage was flushed.
  return 'global';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms))]);
}
