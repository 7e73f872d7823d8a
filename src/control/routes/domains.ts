/** /admin/v1/tenants/{id}/domains, /jwt and /geo: a tenant's custom domains, token settings and geo policy. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import type { ControlAppEnv } from '../app-env.js';
import { db, type Statement } from '../db.js';
import { checkDomain, domainCap } from '../domain-policy.js';
import { checkGeo, geoUpsert, jwtUpsert, requireTenant } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { commitAndInvalidate } from '../outbox.js';
import { DomainBodySchema, GeoPolicySchema, JwtSettingsSchema, TenantRefParam, TenantViewSchema, type TenantView } from '../schemas.js';
import type { ControlServices } from '../services.js';
import { bumpStatement, findTenant, lookupKeys } from '../tenant-repo.js';
import { builtinRoot } from '../templates.js';
import type { LookupKey } from '../../tenancy/tenant.js';
import { CONFLICT, ERRORS, jsonBody, jsonOk, NOT_FOUND, UNPROCESSABLE, validationHook } from './common.js';

export const domains = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['domains and settings'];
const one = jsonOk(TenantViewSchema, 'The changed tenant');

/**
 * Runs `change` with the version bump and the outbox row in one transaction, invalidates the
 * tenant's cache entries (old values, and `extra`: the new ones), answers with the tenant.
 */
async function changed(s: ControlServices, t: TenantView, change: Statement[], extra: LookupKey[]) {
  await commitAndInvalidate(s, [...change, bumpStatement(s.sql, t.id)], [...lookupKeys(t), ...extra]);
  return (await findTenant(s.sql, t.id))!;
}

domains.openapi(createRoute({
  method: 'post', path: '/{id}/domains', tags, summary: "Add a custom domain (unique across tenants, within the tier's cap)",
  request: { params: TenantRefParam, body: jsonBody(DomainBodySchema) },
  responses: { 201: one, ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...UNPROCESSABLE },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const host = checkDomain(c.req.valid('json').hostname, s.config.TENANT_BASE_DOMAINS);
  audit(c, 'domain.add', t.id, { hostname: host });
  const cap = domainCap(await builtinRoot(s.sql, t.tier), t.isolation);
  // The row lock serialises concurrent adds, so two of them cannot both pass the count.
  const [, inserted] = await db(() => s.sql.transaction([
    s.sql.query('SELECT id FROM tenants WHERE id = $1 FOR UPDATE', [t.id]),
    s.sql.query(`INSERT INTO tenant_domains (hostname, tenant_id) SELECT $1, $2
                  WHERE (SELECT count(*) FROM tenant_domains WHERE tenant_id = $2) < $3 RETURNING hostname`, [host, t.id, cap]),
  ]));
  if (inserted!.length === 0) throw new AppError(422, 'DOMAIN_LIMIT_REACHED', `tier ${t.tier} allows ${cap} custom domains`);
  return c.json(await changed(s, t, [], [{ kind: 'domain', value: host }]), 201);
});

domains.openapi(createRoute({
  method: 'delete', path: '/{id}/domains/{hostname}', tags, summary: 'Remove a custom domain',
  request: { params: TenantRefParam.extend({ hostname: z.string().max(253).openapi({ param: { name: 'hostname', in: 'path' } }) }) },
  responses: { 200: one, ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const { id, hostname } = c.req.valid('param');
  const t = await requireTenant(s, id);
  const host = hostname.toLowerCase();
  audit(c, 'domain.remove', t.id, { hostname: host });
  if (!t.domains.includes(host)) throw new AppError(404, 'NOT_FOUND', 'this tenant has no such domain');
  return c.json(await changed(s, t, [s.sql.query('DELETE FROM tenant_domains WHERE hostname = $1 AND tenant_id = $2', [host, t.id])], []), 200);
});

domains.openapi(createRoute({
  method: 'put', path: '/{id}/jwt', tags, summary: "Set the tenant's identity provider (issuer, audience, JWKS URL, claim)",
  request: { params: TenantRefParam, body: jsonBody(JwtSettingsSchema) },
  responses: { 200: one, ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const jwt = c.req.valid('json');
  audit(c, 'jwt.set', t.id, { issuer: jwt.issuer });
  return c.json(await changed(s, t, [jwtUpsert(s, t.id, jwt)], [{ kind: 'issuer', value: jwt.issuer }]), 200);
});

domains.openapi(createRoute({
  method: 'delete', path: '/{id}/jwt', tags, summary: 'Remove the identity provider (platform tokens only)',
  request: { params: TenantRefParam },
  responses: { 200: one, ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  audit(c, 'jwt.remove', t.id);
  return c.json(await changed(s, t, [s.sql.query('DELETE FROM tenant_jwt WHERE tenant_id = $1', [t.id])], []), 200);
});

domains.openapi(createRoute({
  method: 'put', path: '/{id}/geo', tags, summary: 'Set the geo policy (allowed/blocked countries, IP allowlist)',
  request: { params: TenantRefParam, body: jsonBody(GeoPolicySchema) },
  responses: { 200: one, ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const geo = c.req.valid('json');
  checkGeo(geo);
  audit(c, 'geo.set', t.id, geo);
  return c.json(await changed(s, t, [geoUpsert(s, t.id, geo)], []), 200);
});
