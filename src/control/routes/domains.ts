/** /admin/v1/tenants/{id}/domains, /jwt and /geo: a tenant's custom domains, token settings and geo policy. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import type { ControlAppEnv } from '../app-env.js';
import { db } from '../db.js';
import { checkDomain, checkGeo, geoUpsert, jwtUpsert, requireTenant } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { DomainBodySchema, GeoPolicySchema, JwtSettingsSchema, TenantRefParam, TenantViewSchema } from '../schemas.js';
import { bumpVersion, findTenant, lookupKeys } from '../tenant-repo.js';
import type { LookupKey } from '../../tenancy/tenant.js';
import { CONFLICT, ERRORS, jsonBody, jsonOk, NOT_FOUND, UNPROCESSABLE, validationHook } from './common.js';

export const domains = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['domains and settings'];
const one = jsonOk(TenantViewSchema, 'The changed tenant');

/** Bumps the version, drops the router cache entries (old and new), answers with the tenant. */
async function changed(c: Parameters<Parameters<typeof domains.openapi>[1]>[0], id: string, extra: LookupKey[]) {
  const s = c.var.services;
  await bumpVersion(s.sql, id);
  const t = (await findTenant(s.sql, id))!;
  await s.cache.invalidate([...lookupKeys(t), ...extra]);
  return t;
}

domains.openapi(createRoute({
  method: 'post', path: '/{id}/domains', tags, summary: 'Add a custom domain (unique across tenants)',
  request: { params: TenantRefParam, body: jsonBody(DomainBodySchema) },
  responses: { 201: one, ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...UNPROCESSABLE },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const host = checkDomain(c.req.valid('json').hostname, s.config.TENANT_BASE_DOMAINS);
  audit(c, 'domain.add', t.id, { hostname: host });
  await db(() => s.sql.query('INSERT INTO tenant_domains (hostname, tenant_id) VALUES ($1, $2)', [host, t.id]));
  return c.json(await changed(c, t.id, [{ kind: 'domain', value: host }]), 201);
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
  const rows = await db(() => s.sql.query('DELETE FROM tenant_domains WHERE hostname = $1 AND tenant_id = $2 RETURNING hostname', [host, t.id]));
  if (rows.length === 0) throw new AppError(404, 'NOT_FOUND', 'this tenant has no such domain');
  return c.json(await changed(c, t.id, [{ kind: 'domain', value: host }]), 200);
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
  await db(() => jwtUpsert(s, t.id, jwt));
  return c.json(await changed(c, t.id, t.jwt ? [{ kind: 'issuer', value: t.jwt.issuer }] : []), 200);
});

domains.openapi(createRoute({
  method: 'delete', path: '/{id}/jwt', tags, summary: 'Remove the identity provider (platform tokens only)',
  request: { params: TenantRefParam },
  responses: { 200: one, ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  audit(c, 'jwt.remove', t.id);
  await db(() => s.sql.query('DELETE FROM tenant_jwt WHERE tenant_id = $1', [t.id]));
  return c.json(await changed(c, t.id, t.jwt ? [{ kind: 'issuer', value: t.jwt.issuer }] : []), 200);
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
  await db(() => geoUpsert(s, t.id, geo));
  return c.json(await changed(c, t.id, []), 200);
});
