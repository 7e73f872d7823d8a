/**
 * Tenant lifecycle: create → provision (provisioning.ts) → active ⇄ suspended → deleting → gone
 * (deletion.ts). Each step leaves a state a retry completes: a tenant whose provisioning failed
 * stays `provisioning` with the reason in `statusDetail` (POST …/provision retries, DELETE cleans
 * up); a delete whose deprovisioning failed stays `deleting` until DELETE is repeated. Every
 * change invalidates the routers' cache entries through the outbox (outbox.ts).
 */
import { checkDedicatedOrigin, isRefusal } from '../proxy/dedicated-origin.js';
import type { OriginTarget } from '../proxy/config.js';
import { AppError } from '../errors.js';
import { satisfiesResidency, jurisdictionOf } from '../regions.js';
import { parseCidr } from '../policy/cidr.js';
import { checkDomain, domainCap } from './domain-policy.js';
import { loadCatalogue, recordMigration } from './migration-catalog.js';
import { toColumns } from './limits.js';
import { commitAndInvalidate } from './outbox.js';
import { domainInsert } from '../custom-hostnames/store.js';
import { bumpStatement, findTenant, loadPlacement, lookupKeys } from './tenant-repo.js';
import { builtinRoot, findTemplate } from './templates.js';
import { newWrappedKey } from '../tenant-keys/data-key.js';
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

/** A dedicated origin's URL must be one the routers may fetch: 400 ORIGIN_NOT_ALLOWED / ORIGIN_SERVICE_UNKNOWN otherwise. */
export function checkOriginUrl(url: string, tenantRegion: string, config: { ORIGINS: Record<string, OriginTarget>; PROXY_ORIGIN_LOOPBACK: boolean }): void {
  const r = checkDedicatedOrigin(url, tenantRegion, { allowLoopback: config.PROXY_ORIGIN_LOOPBACK, origins: config.ORIGINS });
  if (isRefusal(r)) throw new AppError(400, r.code, r.message);
}

/** A dedicated proxy origin must be under a known jurisdiction that satisfies the residency (routers would refuse 451). */
export function checkProxyOrigin(origin: { region: string } | null, residency: string | null): void {
  if (!origin) return;
  if (!jurisdictionOf(origin.region)) throw new AppError(422, 'UNKNOWN_REGION', `proxy origin region ${origin.region.slice(0, 64)} is not a known region`);
  if (!satisfiesResidency(origin.region, residency)) {
    throw new AppError(422, 'RESIDENCY_MISMATCH', `proxy origin region ${origin.region} is in ${jurisdictionOf(origin.region)}, which does not satisfy residency ${residency}`);
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
  const isolation = body.isolation ?? template.isolation;
  const cap = domainCap(await builtinRoot(s.sql, body.tier), isolation);
  if (domains.length > cap) throw new AppError(422, 'DOMAIN_LIMIT_REACHED', `tier ${body.tier} allows ${cap} custom domains`);
  if (body.geo) checkGeo(body.geo);
  const id = crypto.randomUUID();
  const name = body.name ?? body.slug;
  const sql = s.sql;
  // Its data key (src/tenant-keys/), wrapped under MASTER_KEY's current key, made with the tenant.
  const wrapped = await newWrappedKey(s.masterKeys, id);
  // Inserted claimed for provisioning (see provisioning.ts): the creating call provisions it.
  // Routers may hold negative entries for its keys (someone probed the host before it existed).
  await commitAndInvalidate(s, [
    sql.query(`INSERT INTO tenants (id, slug, name, tier, region, residency, isolation, status, overrides, provisioning_since)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'provisioning', $8, now())`,
      [id, body.slug, name, body.tier, body.region, residency, isolation, JSON.stringify(toColumns(body.overrides ?? {}))]),
    sql.query('INSERT INTO tenant_keys (tenant_id, wrapped) VALUES ($1, $2)', [id, wrapped]),
    ...domains.map((d) => domainInsert(s, d, id)),
    ...(body.jwt ? [jwtUpsert(s, id, body.jwt)] : []),
    ...(body.geo ? [geoUpsert(s, id, body.geo)] : []),
  ], lookupKeys({ id, slug: body.slug, domains, jwt: body.jwt ?? null }));
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

/** Moves between active and suspended. */
export async function setSuspended(s: ControlServices, t: TenantView, suspended: boolean): Promise<void> {
  const from = suspended ? 'active' : 'suspended';
  if (t.status !== from) throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}, not ${from}`);
  // Conditional on the status read: a delete (or another change) that won the race is never undone.
  const [changed] = await commitAndInvalidate(s, [bumpStatement(s.sql, t.id, { status: suspended ? 'suspended' : 'active', from })], lookupKeys(t)) as unknown[][];
  if (!changed || changed.length === 0) throw new AppError(409, 'INVALID_STATE', `tenant is no longer ${from}`);
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
