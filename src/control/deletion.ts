/**
 * Deleting a tenant, in an order that routers still holding it in their caches cannot break:
 *
 *   mark `deleting` (version bump + cache invalidation: routers stop resolving it within L1 TTL)
 *   → remove its custom hostnames at Cloudflare (their ids live in the rows deleted below)
 *   → deprovision (the provisioner fences the tenant's storage: new transactions are refused and
 *     in-flight ones waited for; then drops it and checks that nothing is left)
 *   → archive (slug, tier, terms at deletion: the unbilled month stays billable) + delete the
 *     control rows + schedule the unfence, in one transaction
 *   → after PURGE_GRACE_SECONDS the maintenance run lifts the fence (purge.ts).
 *
 * The fence stays for the grace because a router that resolved the tenant just before the delete
 * may still send it a request (L1 TTL + request deadline); fenced, that request writes nothing.
 * A failed deprovisioning leaves the tenant `deleting` (routers already refuse it); repeating the
 * DELETE continues from there.
 */
import { AppError } from '../errors.js';
import type { Placement } from '../provisioning/provisioner.js';
import { db, type Sql, type Statement } from './db.js';
import { commitAndInvalidate, invalidateAfter } from './outbox.js';
import { STALE_CLAIM } from './provisioning.js';
import type { ControlServices } from './services.js';
import type { TenantView } from './schemas.js';
import { bumpVersion, findTenant, loadPlacement, lookupKeys } from './tenant-repo.js';
import { billingTerms } from './usage.js';
import { removeTenantHostnames } from '../custom-hostnames/sweep.js';
import { withTenantOperation } from '../operations/claim.js';

export interface Deleted { deleted: true; id: string; slug: string; purgeCompletesAt: string }

/**
 * Deletes `t` (see above), only at version `ifVersion` when given (If-Match); answers when the
 * storage purge completes. Holds the tenant's operation claim (src/operations/): while a move,
 * restore, backup or promotion runs the delete is 409 OPERATION_IN_PROGRESS and changes nothing.
 */
export async function deleteTenant(s: ControlServices, t: TenantView, ifVersion: number | null = null): Promise<Deleted> {
  return withTenantOperation(s.sql, t.id, 'delete', () => deleteClaimed(s, t, ifVersion));
}

async function deleteClaimed(s: ControlServices, t: TenantView, ifVersion: number | null): Promise<Deleted> {
  const keys = lookupKeys(t);
  const [marked] = await commitAndInvalidate(s, [markDeleting(s.sql, t.id, ifVersion)], keys) as unknown[][];
  if (marked!.length === 0) {
    const now = ifVersion === null ? null : await findTenant(s.sql, t.id);
    if (now && now.version !== ifVersion) throw new AppError(412, 'PRECONDITION_FAILED', `the tenant is at version ${now.version}, not ${ifVersion}: nothing was deleted`);
    throw new AppError(409, 'PROVISIONING_IN_PROGRESS', 'the tenant is being provisioned; delete it when that call has answered', { 'Retry-After': '5' });
  }
  // Domains or an issuer added between the read of `t` and the mark: their keys go too (a router
  // may have cached the active tenant under them). Anything added after the mark is never served.
  const current = await findTenant(s.sql, t.id);
  const added = current ? lookupKeys(current).filter((k) => !keys.some((x) => x.kind === k.kind && x.value === k.value)) : [];
  if (added.length > 0) { keys.push(...added); await invalidateAfter(s, added); }
  try {
    await removeTenantHostnames(s, t.id);
  } catch (err) {
    await bumpVersion(s.sql, t.id, { statusDetail: 'custom hostnames could not be removed at Cloudflare; repeat the delete' });
    throw err;
  }
  const placement = (await loadPlacement(s.sql, t.id)) ?? unplaced(t);
  try {
    await s.provisioner.deprovision(t.id, placement);
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', msg: 'deprovisioning failed', tenant: t.id, error: String((err as Error)?.message ?? err).slice(0, 300) }));
    await bumpVersion(s.sql, t.id, { statusDetail: 'deprovisioning failed; repeat the delete' });
    throw new AppError(503, 'PROVISIONING_FAILED', 'storage could not be removed; repeat the delete', { 'Retry-After': '5' });
  }
  const terms = await billingTerms(s.sql, t.id);
  const results = await commitAndInvalidate(s, [
    s.sql.query(
      `INSERT INTO tenant_archive (id, slug, tier, region, included_requests, hard_cap, price_cents_month, overage_cents_per_1k, created_at)
       SELECT id, slug, $2, region, $3, $4, $5, $6, created_at FROM tenants WHERE id = $1
       ON CONFLICT (id) DO UPDATE SET deleted_at = now()`,
      [t.id, terms.tier, terms.included, terms.hardCap, terms.pricing.monthlyCents, terms.pricing.overageCentsPer1k]),
    scheduleUnfence(s.sql, t, placement, s.config.PURGE_GRACE_SECONDS),
    s.sql.query('DELETE FROM tenants WHERE id = $1', [t.id]),
  ], keys) as unknown[][];
  const [due] = results[1] as { due_at: string }[];
  return { deleted: true, id: t.id, slug: t.slug, purgeCompletesAt: new Date(due!.due_at).toISOString() };
}

/** `deleting`, unless a fresh provisioning claim is held (its storage is being created right now). */
const markDeleting = (sql: Sql, id: string, ifVersion: number | null): Statement => sql.query(
  `UPDATE tenants SET status = 'deleting', version = version + 1, updated_at = now(), provisioning_since = NULL
    WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)
      AND (provisioning_since IS NULL OR provisioning_since < now() - ${STALE_CLAIM}) RETURNING id`, [id, ifVersion]);

const scheduleUnfence = (sql: Sql, t: TenantView, p: Placement, graceSeconds: number): Statement => sql.query(
  `INSERT INTO pending_unfences (tenant_id, slug, placement, due_at) VALUES ($1, $2, $3::jsonb, now() + make_interval(secs => $4))
   ON CONFLICT (tenant_id) DO UPDATE SET placement = EXCLUDED.placement, due_at = EXCLUDED.due_at RETURNING due_at`,
  [t.id, t.slug, JSON.stringify(p), graceSeconds]);

/** A tenant whose provisioning never completed has no placement: drop whatever its isolation would have made. */
function unplaced(t: TenantView): Placement {
  return { region: t.region, strategy: t.isolation, schemaName: null, roleName: null, databaseName: null, connectionSecret: null, externalRef: null };
}

/** The archived terms of a deleted tenant, or null. */
export async function findArchived(sql: Sql, ref: string) {
  const byId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref);
  const rows = await db(() => sql.query(
    `SELECT id, slug, tier, region, included_requests, hard_cap, price_cents_month, overage_cents_per_1k, deleted_at FROM tenant_archive
      WHERE ${byId ? 'id = $1::uuid' : 'slug = $1'} ORDER BY deleted_at DESC LIMIT 1`, [ref.toLowerCase()])) as Record<string, string | boolean>[];
  const r = rows[0];
  if (!r) return null;
  return {
    id: String(r.id), slug: String(r.slug), deletedAt: new Date(String(r.deleted_at)).toISOString(),
    terms: { tier: String(r.tier), included: Number(r.included_requests), hardCap: r.hard_cap === true,
      pricing: { monthlyCents: Number(r.price_cents_month), overageCentsPer1k: Number(r.overage_cents_per_1k) } },
  };
}
