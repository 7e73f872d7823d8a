/**
 * Tenants in the control database: the admin view (never the sealed connection string) and the
 * writes the lifecycle needs. Every query has fixed text; values are bound parameters.
 */
import { AppError } from '../errors.js';
import { db, type Sql, type Statement } from './db.js';
import { fromColumns } from './limits.js';
import type { TenantView } from './schemas.js';
import type { LookupKey } from '../tenancy/tenant.js';
import type { Placement } from '../provisioning/provisioner.js';

const VIEW = `
SELECT json_build_object(
  'id', t.id, 'slug', t.slug, 'name', t.name, 'tier', t.tier, 'region', t.region, 'residency', t.residency,
  'isolation', t.isolation, 'status', t.status, 'statusDetail', t.status_detail, 'overrides', t.overrides,
  'version', t.version, 'createdAt', t.created_at, 'updatedAt', t.updated_at,
  'domains', coalesce((SELECT json_agg(d.hostname ORDER BY d.hostname) FROM tenant_domains d WHERE d.tenant_id = t.id), '[]'::json),
  'jwt', (SELECT json_build_object('issuer', j.issuer, 'audience', j.audience, 'jwksUrl', j.jwks_url,
            'claim', j.claim, 'algorithms', j.algorithms) FROM tenant_jwt j WHERE j.tenant_id = t.id),
  'geo', (SELECT json_build_object('allowCountries', g.allow_countries, 'blockCountries', g.block_countries,
            'ipAllow', g.ip_allow::text[]) FROM tenant_geo g WHERE g.tenant_id = t.id),
  'placement', (SELECT json_build_object('region', p.region, 'strategy', p.strategy, 'schemaName', p.schema_name,
            'databaseName', p.database_name, 'externalRef', p.external_ref) FROM tenant_placements p WHERE p.tenant_id = t.id),
  'proxy', t.proxy
) AS tenant FROM tenants t `;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Row = { tenant: TenantView & { overrides: Record<string, unknown> } };

function toView(r: Row): TenantView {
  return { ...r.tenant, overrides: fromColumns(r.tenant.overrides) };
}

/** The tenant with id or slug `ref`, or null. */
export async function findTenant(sql: Sql, ref: string): Promise<TenantView | null> {
  const where = UUID.test(ref) ? 'WHERE t.id = $1::uuid' : 'WHERE t.slug = $1';
  const rows = await db(() => sql.query(VIEW + where, [ref.toLowerCase()])) as Row[];
  return rows[0] ? toView(rows[0]) : null;
}

export interface ListFilter { tier?: string; region?: string; status?: string; limit: number; cursor?: string }

/** A page of tenants in (creation time, id) order; `nextCursor` resumes after the last one when more follow. */
export async function listTenants(sql: Sql, f: ListFilter): Promise<{ tenants: TenantView[]; nextCursor: string | null }> {
  const after = f.cursor === undefined ? null : decodeCursor(f.cursor);
  const rows = await db(() => sql.query(
    VIEW + `WHERE ($1::text IS NULL OR t.tier = $1) AND ($2::text IS NULL OR t.region = $2) AND ($3::text IS NULL OR t.status = $3)
      AND ($4::timestamptz IS NULL OR (t.created_at, t.id) > ($4::timestamptz, $5::uuid)) ORDER BY t.created_at, t.id LIMIT $6`,
    [f.tier ?? null, f.region ?? null, f.status ?? null, after?.createdAt ?? null, after?.id ?? null, f.limit + 1])) as Row[];
  const page = rows.slice(0, f.limit).map(toView);
  const last = page[page.length - 1];
  return { tenants: page, nextCursor: rows.length > f.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}

// Postgres's text of a timestamptz (microseconds kept: two tenants a microsecond apart stay apart).
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)$/;

/** The opaque cursor after the tenant created at `createdAt` with `id`: base64url of both. */
export function encodeCursor(createdAt: string, id: string): string {
  return btoa(`${createdAt}|${id}`).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The position a cursor names; 400 when it is not one this API returned. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  let text = '';
  try { text = atob(cursor.replace(/-/g, '+').replace(/_/g, '/')); } catch { /* refused below */ }
  const [createdAt, id, ...rest] = text.split('|');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || rest.length > 0 || !createdAt || !id || !TIMESTAMP.test(createdAt) || !UUID.test(id) || Number.isNaN(Date.parse(createdAt))) {
    throw new AppError(400, 'BAD_REQUEST', 'cursor is not one this API returned (pass nextCursor as is)');
  }
  return { createdAt, id };
}

/** Every cache key the routers may hold for `t`. */
export function lookupKeys(t: { id: string; slug: string; domains: string[]; jwt: { issuer: string } | null }): LookupKey[] {
  return [
    { kind: 'id', value: t.id }, { kind: 'slug', value: t.slug },
    ...t.domains.map((value) => ({ kind: 'domain' as const, value })),
    ...(t.jwt ? [{ kind: 'issuer' as const, value: t.jwt.issuer }] : []),
  ];
}

/** The version bump as a statement, for a transaction (see bumpVersion). */
export const bumpStatement = (sql: Sql, id: string, set: { status?: string; statusDetail?: string | null; from?: string } = {}): Statement => sql.query(
  `UPDATE tenants SET version = version + 1, updated_at = now(),
     status = coalesce($2, status), status_detail = CASE WHEN $3::boolean THEN $4 ELSE status_detail END
   WHERE id = $1 AND ($5::text IS NULL OR status = $5) RETURNING id`,
  [id, set.status ?? null, set.statusDetail !== undefined, set.statusDetail ?? null, set.from ?? null]);

/** Bumps the version (routers compare nothing: the bump marks the change in the record). */
export async function bumpVersion(sql: Sql, id: string, set: { status?: string; statusDetail?: string | null } = {}): Promise<void> {
  await db(() => bumpStatement(sql, id, set));
}

/** Records (or replaces) where the tenant's rows live. */
export async function savePlacement(sql: Sql, id: string, p: Placement): Promise<void> {
  await db(() => sql.query(
    `INSERT INTO tenant_placements (tenant_id, region, strategy, schema_name, role_name, database_name, connection_secret, external_ref)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tenant_id) DO UPDATE SET region = $2, strategy = $3, schema_name = $4, role_name = $5,
       database_name = $6, connection_secret = $7, external_ref = $8`,
    [id, p.region, p.strategy, p.schemaName, p.roleName, p.databaseName, p.connectionSecret, p.externalRef]));
}

/** The stored placement, secret included (for the provisioner only). */
export async function loadPlacement(sql: Sql, id: string): Promise<Placement | null> {
  const rows = await db(() => sql.query(
    `SELECT region, strategy, schema_name AS "schemaName", role_name AS "roleName", database_name AS "databaseName",
            connection_secret AS "connectionSecret", external_ref AS "externalRef" FROM tenant_placements WHERE tenant_id = $1`, [id])) as Placement[];
  return rows[0] ?? null;
}
