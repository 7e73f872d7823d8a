/** /admin/v1/tenants/{id}/domains, /jwt and /geo: a tenant's custom domains (Cloudflare custom hostnames), token settings and geo policy. */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import type { ControlAppEnv } from '../app-env.js';
import type { Statement } from '../db.js';
import { checkDomain, domainCap } from '../domain-policy.js';
import { checkGeo, geoUpsert, jwtUpsert, requireTenant } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { commitAndInvalidate } from '../outbox.js';
import { DomainBodySchema, GeoPolicySchema, JwtSettingsSchema, TenantRefParam, TenantViewSchema, type TenantView } from '../schemas.js';
import type { ControlServices } from '../services.js';
import { bumpStatement, findTenant, lookupKeys } from '../tenant-repo.js';
import { builtinRoot } from '../templates.js';
import type { LookupKey } from '../../tenancy/tenant.js';
import { addDomain, refreshDomain, removeDomain } from '../../custom-hostnames/lifecycle.js';
import { DomainParam, DomainViewSchema } from '../../custom-hostnames/schemas.js';
import { findDomain } from '../../custom-hostnames/store.js';
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

const domainOk = (description: string) => jsonOk(DomainViewSchema, description);
/** The domain in the request's path, canonical; 404 when the tenant has none such. */
async function requireDomain(s: ControlServices, t: TenantView, hostname: string) {
  const d = await findDomain(s.sql, t.id, hostname.toLowerCase());
  if (!d) throw new AppError(404, 'NOT_FOUND', 'this tenant has no such domain');
  return d;
}

domains.openapi(createRoute({
  method: 'post', path: '/{id}/domains', tags, operationId: 'addDomain',
  summary: "Add a custom domain (unique across tenants, within the tier's cap): a Cloudflare custom hostname, pending until the tenant publishes the records",
  request: { params: TenantRefParam, body: jsonBody(DomainBodySchema) },
  responses: { 201: domainOk('The domain, `pending`, with the records to publish'), ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...UNPROCESSABLE },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const host = checkDomain(c.req.valid('json').hostname, s.config.TENANT_BASE_DOMAINS);
  audit(c, 'domain.add', t.id, { hostname: host });
  const cap = domainCap(await builtinRoot(s.sql, t.tier), t.isolation);
  return c.json(await addDomain(s, t, host, cap), 201);
});

domains.openapi(createRoute({
  method: 'get', path: '/{id}/domains/{hostname}', tags, operationId: 'getDomain', summary: 'A custom domain: status, records to publish, timestamps',
  request: { params: DomainParam },
  responses: { 200: domainOk('The domain'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const { id, hostname } = c.req.valid('param');
  return c.json(await requireDomain(s, await requireTenant(s, id), hostname), 200);
});

domains.openapi(createRoute({
  method: 'post', path: '/{id}/domains/{hostname}/refresh', tags, operationId: 'refreshDomain',
  summary: "Check the domain at Cloudflare now (maintenance does so on a schedule); active once hostname and certificate are",
  request: { params: DomainParam },
  responses: { 200: domainOk('The domain after the check'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const { id, hostname } = c.req.valid('param');
  const t = await requireTenant(s, id);
  const d = await requireDomain(s, t, hostname);
  audit(c, 'domain.refresh', t.id, { hostname: d.hostname });
  return c.json(await refreshDomain(s, t, d), 200);
});

domains.openapi(createRoute({
  method: 'delete', path: '/{id}/domains/{hostname}', tags, operationId: 'removeDomain', summary: 'Remove a custom domain (and its Cloudflare custom hostname)',
  request: { params: DomainParam },
  responses: { 200: one, ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const { id, hostname } = c.req.valid('param');
  const t = await requireTenant(s, id);
  const host = hostname.toLowerCase();
  audit(c, 'domain.remove', t.id, { hostname: host });
  await removeDomain(s, t, host);
  return c.json((await findTenant(s.sql, t.id))!, 200);
});

domains.openapi(createRoute({
  method: 'put', path: '/{id}/jwt', tags, operationId: 'setJwt', summary: "Set the tenant's identity provider (issuer, audience, JWKS URL, claim)",
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
  method: 'delete', path: '/{id}/jwt', tags, operationId: 'removeJwt', summary: 'Remove the identity provider (platform tokens only)',
  request: { params: TenantRefParam },
  responses: { 200: one, ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  audit(c, 'jwt.remove', t.id);
  return c.json(await changed(s, t, [s.sql.query('DELETE FROM tenant_jwt WHERE tenant_id = $1', [t.id])], []), 200);
});

domains.openapi(createRoute({
  method: 'put', path: '/{id}/geo', tags, operationId: 'setGeo', summary: 'Set the geo policy (allowed/blocked countries, IP allowlist)',
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
