/**
 * Custom domains in the control database (`tenant_domains`, migration 0006): their state, the
 * Cloudflare custom hostname behind them, the records to publish and when they are checked next.
 * Fixed query texts; every value is a bound parameter.
 */
import { db, type Sql, type Statement } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import type { DomainRecord, DomainState } from './status.js';

/** A custom domain as the admin API shows it. */
export interface DomainView {
  hostname: string;
  tenantId: string;
  status: DomainState;
  statusDetail: string | null;
  records: DomainRecord[];
  cloudflareId: string | null;
  createdAt: string;
  checkedAt: string | null;
  activatedAt: string | null;
  nextCheckAt: string | null;
}

const VIEW = `SELECT hostname, tenant_id AS "tenantId", status, status_detail AS "statusDetail", records, cloudflare_id AS "cloudflareId",
  created_at AS "createdAt", checked_at AS "checkedAt", activated_at AS "activatedAt",
  CASE WHEN status = 'pending' THEN next_check_at END AS "nextCheckAt" FROM tenant_domains`;

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(String(v)).toISOString());
const toView = (r: DomainView): DomainView => ({
  ...r, createdAt: iso(r.createdAt)!, checkedAt: iso(r.checkedAt), activatedAt: iso(r.activatedAt), nextCheckAt: iso(r.nextCheckAt),
});

/** The statement that adds `host` to tenant `id` as tenant creation does: active at once only without Cloudflare. */
export function domainInsert(s: Pick<ControlServices, 'sql' | 'config'>, host: string, id: string): Statement {
  const status: DomainState = s.config.CUSTOM_HOSTNAMES === 'off' ? 'active' : 'pending';
  return s.sql.query(
    `INSERT INTO tenant_domains (hostname, tenant_id, status, activated_at) VALUES ($1, $2, $3, CASE WHEN $3 = 'active' THEN now() END)`,
    [host, id, status]);
}

export interface NewDomain { host: string; tenantId: string; cap: number; state: DomainState; detail: string | null; records: DomainRecord[]; cloudflareId: string | null }

/** Inserts the domain unless the tenant already has `cap` of them (returns the hostname, or nothing). */
export const insertCapped = (sql: Sql, d: NewDomain): Statement => sql.query(
  `INSERT INTO tenant_domains (hostname, tenant_id, status, status_detail, records, cloudflare_id, checked_at, activated_at)
   SELECT $1, $2, $4, $5, $6::jsonb, $7, CASE WHEN $7::text IS NOT NULL THEN now() END, CASE WHEN $4 = 'active' THEN now() END
    WHERE (SELECT count(*) FROM tenant_domains WHERE tenant_id = $2) < $3
      AND EXISTS (SELECT 1 FROM tenants WHERE id = $2 AND status <> 'deleting') RETURNING hostname`,
  [d.host, d.tenantId, d.cap, d.state, d.detail, JSON.stringify(d.records), d.cloudflareId]);

export interface Checked { state: DomainState; detail: string | null; records: DomainRecord[]; cloudflareId: string | null; recheckSeconds: number }

/** Records a check's outcome (a row deleted meanwhile stays deleted). */
export const checkedStatement = (sql: Sql, host: string, tenantId: string, c: Checked): Statement => sql.query(
  `UPDATE tenant_domains SET status = $3, status_detail = $4, records = $5::jsonb, cloudflare_id = $6, checked_at = now(),
     check_count = check_count + 1, next_check_at = now() + make_interval(secs => $7),
     activated_at = CASE WHEN $3 = 'active' THEN coalesce(activated_at, now()) ELSE activated_at END
   WHERE hostname = $1 AND tenant_id = $2 RETURNING hostname`,
  [host, tenantId, c.state, c.detail, JSON.stringify(c.records), c.cloudflareId, c.recheckSeconds]);

/** Tenant `tenantId`'s domain `host`, or null. */
export async function findDomain(sql: Sql, tenantId: string, host: string): Promise<DomainView | null> {
  const rows = await db(() => sql.query(`${VIEW} WHERE hostname = $1 AND tenant_id = $2`, [host, tenantId])) as DomainView[];
  return rows[0] ? toView(rows[0]) : null;
}

/** How many domains the tenant has. */
export async function countDomains(sql: Sql, tenantId: string): Promise<number> {
  const [r] = await db(() => sql.query('SELECT count(*)::int AS n FROM tenant_domains WHERE tenant_id = $1', [tenantId])) as { n: number }[];
  return r!.n;
}

/** Whether any tenant holds `host`. */
export async function domainTaken(sql: Sql, host: string): Promise<boolean> {
  return (await db(() => sql.query('SELECT 1 FROM tenant_domains WHERE hostname = $1', [host]))).length > 0;
}

/**
 * Claims up to `limit` domains that are due, oldest check first: pending ones, and active ones
 * registered at Cloudflare (checked daily, see ACTIVE_RECHECK_SECONDS), in that order (the outer
 * SELECT sees the rows as before the claim). Claiming pushes their next check 2 minutes on, so
 * concurrent runs take different rows and a run that dies loses nothing.
 */
export async function claimDue(sql: Sql, limit: number): Promise<DomainView[]> {
  const rows = await db(() => sql.query(
    `WITH due AS (SELECT d.hostname FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id
                   WHERE (d.status = 'pending' OR (d.status = 'active' AND d.cloudflare_id IS NOT NULL))
                     AND d.next_check_at <= now() AND t.status <> 'deleting'
                   ORDER BY d.next_check_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED),
          claimed AS (UPDATE tenant_domains SET next_check_at = now() + interval '2 minutes' WHERE hostname IN (SELECT hostname FROM due) RETURNING hostname)
     ${VIEW} WHERE hostname IN (SELECT hostname FROM claimed) ORDER BY next_check_at`, [limit])) as DomainView[];
  return rows.map(toView);
}

/** The Cloudflare ids of a tenant's custom hostnames. */
export async function tenantHostnameIds(sql: Sql, tenantId: string): Promise<{ hostname: string; cloudflareId: string }[]> {
  return await db(() => sql.query(
    'SELECT hostname, cloudflare_id AS "cloudflareId" FROM tenant_domains WHERE tenant_id = $1 AND cloudflare_id IS NOT NULL', [tenantId])) as { hostname: string; cloudflareId: string }[];
}
