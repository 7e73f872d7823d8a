/**
 * Provisioning a tenant's storage, one caller at a time. Two concurrent `POST …/provision` calls
 * would both create storage (with Neon, two projects, one of them orphaned), so a caller first
 * claims the tenant with a conditional UPDATE of `provisioning_since`; a concurrent call is
 * answered 409. A claim older than STALE_CLAIM belongs to a caller that died and may be taken
 * over. Creating a tenant inserts it claimed already.
 */
import { AppError } from '../errors.js';
import { db, type Sql } from './db.js';
import { loadCatalogue, recordMigration } from './migration-catalog.js';
import { commitAndInvalidate } from './outbox.js';
import type { ControlServices } from './services.js';
import type { TenantView } from './schemas.js';
import { findTenant, lookupKeys, savePlacement } from './tenant-repo.js';
import { connectionLimitOf } from '../storage/connection-limit.js';

/** How long a provisioning claim holds (seconds): longer than any provisioning takes (Neon operations included). */
export const STALE_CLAIM_SECONDS = 600;
/** STALE_CLAIM_SECONDS as SQL. */
export const STALE_CLAIM = `make_interval(secs => ${STALE_CLAIM_SECONDS})`;

/** Claims `id` for provisioning; 409 when it is not `provisioning` or another call holds a fresh claim. */
export async function claimProvisioning(sql: Sql, id: string): Promise<void> {
  const rows = await db(() => sql.query(
    `WITH claim AS (
       UPDATE tenants SET provisioning_since = now() WHERE id = $1 AND status = 'provisioning'
          AND (provisioning_since IS NULL OR provisioning_since < now() - ${STALE_CLAIM}) RETURNING id)
     SELECT (SELECT count(*) FROM claim) AS claimed, status FROM tenants WHERE id = $1`, [id])) as { claimed: string; status: string }[];
  const r = rows[0];
  if (!r) throw new AppError(404, 'TENANT_NOT_FOUND', 'no such tenant');
  if (Number(r.claimed) === 1) return;
  if (r.status !== 'provisioning') throw new AppError(409, 'INVALID_STATE', `tenant is ${r.status}, not provisioning`);
  throw new AppError(409, 'PROVISIONING_IN_PROGRESS', 'another call is provisioning this tenant', { 'Retry-After': '5' });
}

/** Provisions (or finishes provisioning) the tenant's storage, then activates it; `claimed` when the caller holds the claim. */
export async function provisionTenant(s: ControlServices, t: TenantView, claimed = false): Promise<void> {
  if (!claimed) await claimProvisioning(s.sql, t.id);
  const migrations = await loadCatalogue(s.sql);
  try {
    const connectionLimit = (await connectionLimitOf(s.sql, t.id)) ?? undefined;
    const placement = await s.provisioner.provision({ tenantId: t.id, region: t.region, isolation: t.isolation, migrations, connectionLimit });
    await savePlacement(s.sql, t.id, placement);
  } catch (err) {
    const reason = err instanceof AppError ? err.message : 'storage provisioning failed';
    console.error(JSON.stringify({ level: 'error', msg: 'provisioning failed', tenant: t.id, error: String((err as Error)?.message ?? err).slice(0, 300) }));
    // The claim goes with the failure: a retry may start at once.
    await db(() => s.sql.query(
      `UPDATE tenants SET version = version + 1, updated_at = now(), status_detail = $2, provisioning_since = NULL
        WHERE id = $1 AND status = 'provisioning'`, [t.id, reason]));
    throw new AppError(503, 'PROVISIONING_FAILED', `storage for tenant ${t.id} is not ready; retry with POST /admin/v1/tenants/${t.id}/provision or delete it`, { 'Retry-After': '5' });
  }
  await recordMigration(s.sql, t.id, migrations.at(-1)?.name ?? null, null);
  await commitAndInvalidate(s, [s.sql.query(
    `UPDATE tenants SET version = version + 1, updated_at = now(), status = 'active', status_detail = NULL, provisioning_since = NULL
      WHERE id = $1 AND status = 'provisioning'`, [t.id])], lookupKeys(t));
}

/**
 * Provisions a freshly created (claimed) tenant, waiting at most `waitMs`: true when it is
 * active within the bound (a failure within it throws, as provisionTenant does); false when it
 * is still going, in which case `keepAlive` receives the rest of the work (waitUntil). Should the
 * isolate die before it ends, its claim goes stale and resumeProvisioning finishes it.
 */
export async function provisionWithin(s: ControlServices, t: TenantView, waitMs: number, keepAlive: (work: Promise<unknown>) => void): Promise<boolean> {
  const outcome = provisionTenant(s, t, true).then(() => ({ ok: true as const }), (err: unknown) => ({ ok: false as const, err }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), waitMs); });
  const first = await Promise.race([outcome, bound]);
  clearTimeout(timer);
  if (first?.ok) return true;
  if (first) throw first.err;
  // provisionTenant has logged a failure and recorded it in statusDetail already.
  keepAlive(outcome);
  return false;
}

/** How many abandoned provisionings one maintenance run resumes (each may take a while). */
const RESUME_PER_RUN = 3;
/**
 * How stale a claim must be before maintenance resumes it: later than an operator's own retry
 * may take it over (STALE_CLAIM), so an explicit POST …/provision is never raced by the run.
 */
export const RESUME_AFTER = "interval '15 minutes'";

/**
 * Resumes provisionings whose caller died (the claim went stale, see RESUME_AFTER): a POST that
 * answered 202 and whose background work was cut off. A provisioning that failed released its
 * claim with the reason in statusDetail: that one waits for the operator (POST …/provision).
 */
export async function resumeProvisioning(s: ControlServices): Promise<{ resumed: number; failed: number }> {
  const rows = await db(() => s.sql.query(
    `SELECT id FROM tenants WHERE status = 'provisioning' AND provisioning_since < now() - ${RESUME_AFTER}
      ORDER BY provisioning_since LIMIT ${RESUME_PER_RUN}`)) as { id: string }[];
  let resumed = 0;
  let failed = 0;
  for (const { id } of rows) {
    const t = await findTenant(s.sql, id);
    if (!t) continue;
    try {
      await provisionTenant(s, t);
      resumed++;
    } catch (err) {
      // Another caller took it (409), or it failed again (recorded in statusDetail).
      if (!(err instanceof AppError && err.status === 409)) failed++;
    }
  }
  return { resumed, failed };
}
