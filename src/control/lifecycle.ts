/**
 * Tenant lifecycle: create → provision → active ⇄ suspended → deleting → gone. Each step leaves
 * a state a retry completes: a tenant whose provisioning failed stays `provisioning` with the
 * reason in `statusDetail` (POST …/provision retries, DELETE cleans up); a delete whose
 * deprovisioning failed stays `deleting` (routers already refuse it) until DELETE is repeated.
 */
import { AppError } from '../errors.js';
import { satisfiesResidency, jurisdictionOf } from '../regions.js';
import { normalizeHost, classifyHost } from '../tenancy/host.js';
import { parseCidr } from '../policy/cidr.js';
import { db } from './db.js';
import { toColumns } from './limits.js';
import { loadCatalogue, recordMigration } from './migration-catalog.js';
import { bumpVersion, findTenant, loadPlacement, lookupKeys, savePlacement } from './tenant-repo.js';
import { findTemplate } from './templates.js';
import type { ControlServices } from './services.js';
import type { TenantView } from './schemas.js';
import type { z } from '@hono/zod-openapi';
import type { CreateTenantSchema, GeoPolicySchema, JwtSettingsSchema } from './schemas.js';

/** Subdomains the platform keeps for itself. */
export const RESERVED_SLUGS = new Set(['admin', 'api', 'www', 'app', 'auth', 'login', 'control', 'dashboard', 'docs', 'mail',
  'status', 'static', 'cdn', 'assets', 'billing', 'support', 'help', 'root', 'system', 'internal', 'localhost']);

/** The tenant `ref` (id or slug), or 404. */
export async function requireTenant(s: ControlServices, ref: string): Promise<TenantView> {
  const t = await findTenant(s.sql, ref);
  if (!t) throw new AppError(404, 'TENANT_NOT_FOUND', 'no such tenant');
  return t;
}

/** Validates a custom domain: a DNS name, not the platform's own (base domains have slugs). */
export function checkDomain(raw: string, baseDomains: string[]): string {
  const host = normalizeHost(raw);
  if (!host || raw.includes(':') || !host.includes('.')) throw new AppError(400, 'BAD_REQUEST', `${raw.slice(0, 100)} is not a valid hostname`);
  if (classifyHost(host, baseDomains).kind !== 'custom') throw new AppError(422, 'BAD_REQUEST', 'subdomains of the platform base domains are slugs, not custom domains');
  return host;
}

/** Checks geo policy values beyond their shape (CIDR syntax). */
export function checkGeo(geo: z.infer<typeof GeoPolicySchema>): void {
  for (const c of geo.ipAllow) {
    try { parseCidr(c); } catch { throw new AppError(400, 'BAD_REQUEST', `ipAllow: ${c.slice(0, 64)} is not a CIDR block`); }
  }
}

/** Residency and region checks shared by create and patch. */
export function checkPlacement(s: ControlServices, region: string, residency: string | null): void {
  if (!jurisdictionOf(region) || !s.config.REGION_ADMIN_URLS[region]) {
    throw new AppError(422, 'UNKNOWN_REGION', `region ${region.slice(0, 64)} is not served; known: ${Object.keys(s.config.REGION_ADMIN_URLS).join(', ')}`);
  }
  if (!satisfiesResidency(region, residency)) {
    throw new AppError(422, 'RESIDENCY_MISMATCH', `region ${region} is in ${jurisdictionOf(region)}, which does not satisfy residency ${residency}`);
  }
}

/** Inserts the tenant and its settings in one transaction, status `provisioning`. */
export async function insertTenant(s: ControlServices, body: z.infer<typeof CreateTenantSchema>, baseDomains: string[]): Promise<string> {
  if (RESERVED_SLUGS.has(body.slug)) throw new AppError(422, 'SLUG_RESERVED', `${body.slug} is reserved`);
  const residency = body.residency ?? null;
  checkPlacement(s, body.region, residency);
  const template = await findTemplate(s.sql, body.tier);
  if (!template) throw new AppError(422, 'TEMPLATE_NOT_FOUND', `no tier or template ${body.tier}`);
  const domains = [...new Set((body.domains ?? []).map((d) => checkDomain(d, baseDomains)))];
  if (body.geo) checkGeo(body.geo);
  const id = crypto.randomUUID();
  const name = body.name ?? body.slug;
  const sql = s.sql;
  await db(() => sql.transaction([
    sql.query(`INSERT INTO tenants (id, slug, name, tier, region, residency, isolation, status, overrides)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'provisioning', $8)`,
      [id, body.slug, name, body.tier, body.region, residency, body.isolation ?? template.isolation, JSON.stringify(toColumns(body.overrides ?? {}))]),
    ...domains.map((d) => sql.query('INSERT INTO tenant_domains (hostname, tenant_id) VALUES ($1, $2)', [d, id])),
    ...(body.jwt ? [jwtUpsert(s, id, body.jwt)] : []),
    ...(body.geo ? [geoUpsert(s, id, body.geo)] : []),
  ]));
  // Routers may hold negative entries for these keys (someone probed the host before it existed).
  await s.cache.invalidate(lookupKeys({ id, slug: body.slug, domains, jwt: body.jwt ?? null })).catch(() => {});
  return id;
}

export const jwtUpsert = (s: ControlServices, id: string, j: z.infer<typeof JwtSettingsSchema>) => s.sql.query(
  `INSERT INTO tenant_jwt (tenant_id, issuer, audience, jwks_url, claim, algorithms) VALUES ($1, $2, $3, $4, $5, $6)
   ON CONFLICT (tenant_id) DO UPDATE SET issuer = $2, audience = $3, jwks_url = $4, claim = $5, algorithms = $6`,
  [id, j.issuer, j.audience, j.jwksUrl, j.claim, j.algorithms]);

export const geoUpsert = (s: ControlServices, id: string, g: z.infer<typeof GeoPolicySchema>) => s.sql.query(
  `INSERT INTO tenant_geo (tenant_id, allow_countries, block_countries, ip_allow) VALUES ($1, $2, $3, $4::cidr[])
   ON CONFLICT (tenant_id) DO UPDATE SET allow_countries = $2, block_countries = $3, ip_allow = $4::cidr[]`,
  [id, g.allowCountries, g.blockCountries, g.ipAllow]);

/** Provisions (or finishes provisioning) the tenant's storage, then activates it. */
export async function provisionTenant(s: ControlServices, t: TenantView): Promise<void> {
  if (t.status !== 'provisioning') throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}, not provisioning`);
  const migrations = await loadCatalogue(s.sql);
  try {
    const placement = await s.provisioner.provision({ tenantId: t.id, region: t.region, isolation: t.isolation, migrations });
    await savePlacement(s.sql, t.id, placement);
  } catch (err) {
    const reason = err instanceof AppError ? err.message : 'storage provisioning failed';
    console.error(JSON.stringify({ level: 'error', msg: 'provisioning failed', tenant: t.id, error: String((err as Error)?.message ?? err).slice(0, 300) }));
    await bumpVersion(s.sql, t.id, { statusDetail: reason });
    throw new AppError(503, 'PROVISIONING_FAILED', `storage for tenant ${t.id} is not ready; retry with POST /admin/v1/tenants/${t.id}/provision or delete it`, { 'Retry-After': '5' });
  }
  await recordMigration(s.sql, t.id, migrations.at(-1)?.name ?? null, null);
  await bumpVersion(s.sql, t.id, { status: 'active', statusDetail: null });
  await s.cache.invalidate(lookupKeys(t)).catch(() => {});
}

/** Moves between active and suspended. */
export async function setSuspended(s: ControlServices, t: TenantView, suspended: boolean): Promise<void> {
  const from = suspended ? 'active' : 'suspended';
  if (t.status !== from) throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}, not ${from}`);
  await bumpVersion(s.sql, t.id, { status: suspended ? 'suspended' : 'active' });
  await s.cache.invalidate(lookupKeys(t));
}

/** Marks the tenant deleting (routers stop resolving it), deprovisions its storage, removes it. */
export async function deleteTenant(s: ControlServices, t: TenantView): Promise<void> {
  await bumpVersion(s.sql, t.id, { status: 'deleting' });
  await s.cache.invalidate(lookupKeys(t));
  const placement = await loadPlacement(s.sql, t.id);
  try {
    await s.provisioner.deprovision(t.id, placement ?? {
      region: t.region, strategy: t.isolation, schemaName: null, roleName: null, databaseName: null, connectionSecret: null, externalRef: null,
    });
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', msg: 'deprovisioning failed', tenant: t.id, error: String((err as Error)?.message ?? err).slice(0, 300) }));
    await bumpVersion(s.sql, t.id, { statusDetail: 'deprovisioning failed; repeat the delete' });
    throw new AppError(503, 'PROVISIONING_FAILED', 'storage could not be removed; repeat the delete', { 'Retry-After': '5' });
  }
  await db(() => s.sql.query('DELETE FROM tenants WHERE id = $1', [t.id]));
  await s.cache.invalidate(lookupKeys(t));
}

/** Applies the catalogue to one tenant and records the outcome. */
export async function migrateTenant(s: ControlServices, t: TenantView): Promise<{ applied: string[]; state: 'current' | 'failed'; error: string | null }> {
  if (t.status === 'provisioning' || t.status === 'deleting') throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}`);
  const migrations = await loadCatalogue(s.sql);
  const placement = await loadPlacement(s.sql, t.id);
  if (!placement) throw new AppError(409, 'INVALID_STATE', 'tenant has no storage');
  try {
    const applied = await s.provisioner.migrate(t.id, placement, migrations);
    await recordMigration(s.sql, t.id, migrations.at(-1)?.name ?? null, null);
    return { applied, state: 'current', error: null };
  } catch (err) {
    // The migration's own error (a SQL error of the operator's migration) is the operator's to see.
    const error = String((err as Error)?.message ?? err).slice(0, 500);
    await recordMigration(s.sql, t.id, null, error);
    return { applied: [], state: 'failed', error };
  }
}
