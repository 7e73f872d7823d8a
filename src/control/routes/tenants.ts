/** /admin/v1/tenants: create, list, get, patch, suspend, resume, provision, delete, usage, migrate. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import type { ControlAppEnv } from '../app-env.js';
import { deleteTenant, findArchived } from '../deletion.js';
import { toColumns } from '../limits.js';
import { checkOriginUrl, checkPlacement, checkProxyOrigin, insertTenant, migrateTenant, requireTenant, setSuspended } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { commitAndInvalidate } from '../outbox.js';
import { provisionTenant, provisionWithin } from '../provisioning.js';
import { CreateTenantSchema, DeletedSchema, ListTenantsQuery, PatchTenantSchema, TenantListSchema, TenantRefParam, TenantViewSchema, UsageSchema } from '../schemas.js';
import { findTenant, listTenants, lookupKeys } from '../tenant-repo.js';
import { findTemplate } from '../templates.js';
import { billingTerms, invoicePreview, monthOf, usageHistory } from '../usage.js';
import { applyConnectionLimit } from '../../storage/connection-limit.js';
import { moveTenant } from '../../moves/move.js';
import { storageOf } from '../../storage/refresh.js';
import { CONFLICT, ERRORS, errorSpec, etagOf, IfMatchHeader, IfNoneMatchHeader, jsonBody, jsonOk, jsonTagged, NOT_FOUND, NOT_MODIFIED, PRECONDITION, requiredVersion, tagged, UNPROCESSABLE, validationHook } from './common.js';

export const tenants = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['tenants'];
const one = (description: string) => jsonTagged(TenantViewSchema, description);
const MOVED = { 'X-Tenant-Move': { description: 'When the new tier needed another isolation: the id of the move that took the data there (GET /tenants/{id}/moves)', schema: { type: 'string' as const } } };
const LOCATION = { Location: { description: 'The tenant, to poll until its status is active', schema: { type: 'string' as const } } };

tenants.openapi(createRoute({
  method: 'post', path: '/', tags, operationId: 'createTenant',
  summary: 'Create a tenant and provision its storage in its region (201 when active within PROVISION_WAIT_MS, else 202)',
  request: { body: jsonBody(CreateTenantSchema) },
  responses: {
    201: one('Created, provisioned and active'),
    202: { ...one('Created; provisioning continues in the background (poll Location until the status is active)'), headers: { ...one('').headers, ...LOCATION } },
    ...ERRORS, ...CONFLICT, ...UNPROCESSABLE,
  },
}), async (c) => {
  const s = c.var.services;
  const body = c.req.valid('json');
  const id = await insertTenant(s, body, s.config.TENANT_BASE_DOMAINS);
  audit(c, 'tenant.create', id, { slug: body.slug, tier: body.tier, region: body.region });
  const done = await provisionWithin(s, (await findTenant(s.sql, id))!, s.config.PROVISION_WAIT_MS, (work) => c.executionCtx.waitUntil(work));
  const t = (await findTenant(s.sql, id))!;
  c.header('ETag', etagOf(t.version));
  if (done) return c.json(t, 201);
  c.header('Location', `/admin/v1/tenants/${id}`);
  return c.json(t, 202);
});

tenants.openapi(createRoute({
  method: 'get', path: '/', tags, operationId: 'listTenants',
  summary: 'List tenants in creation order (opaque cursor; filters by tier, region, status)',
  request: { query: ListTenantsQuery },
  responses: { 200: jsonOk(TenantListSchema, 'A page of tenants'), ...ERRORS },
}), async (c) => {
  audit(c, 'tenant.list');
  return c.json(await listTenants(c.var.services.sql, c.req.valid('query')), 200);
});

tenants.openapi(createRoute({
  method: 'get', path: '/{id}', tags, operationId: 'getTenant', summary: 'Get a tenant by id or slug',
  request: { params: TenantRefParam, headers: IfNoneMatchHeader },
  responses: { 200: one('The tenant'), ...NOT_MODIFIED, ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const t = await requireTenant(c.var.services, c.req.valid('param').id);
  audit(c, 'tenant.get', t.id);
  return tagged(c, t.version) ?? c.json(t, 200);
});

tenants.openapi(createRoute({
  method: 'patch', path: '/{id}', tags, operationId: 'updateTenant',
  summary: 'Change name, tier, residency, overrides or proxy settings (If-Match: only at that version); a tier of another isolation moves the tenant\'s data first, online',
  request: { params: TenantRefParam, headers: IfMatchHeader, body: jsonBody(PatchTenantSchema) },
  responses: {
    200: { ...one('The changed tenant, with its new ETag'), headers: { ...one('').headers, ...MOVED } },
    ...ERRORS, ...NOT_FOUND, ...PRECONDITION, ...UNPROCESSABLE,
    409: errorSpec('The move the new tier needs cannot run now (nothing was changed)', ['INVALID_STATE', 'MOVE_IN_PROGRESS', 'OPERATION_IN_PROGRESS', 'MOVE_FAILED', 'MOVE_CLEANUP_PENDING']),
    503: errorSpec('The move the new tier needs failed and was rolled back (nothing was changed)', ['MOVE_FAILED']),
  },
}), async (c) => {
  const s = c.var.services;
  let ifVersion = requiredVersion(c.req.header('if-match'));
  let t = await requireTenant(s, c.req.valid('param').id);
  const body = c.req.valid('json');
  const template = body.tier ? await findTemplate(s.sql, body.tier) : null;
  if (body.tier && !template) throw new AppError(422, 'TEMPLATE_NOT_FOUND', `no tier or template ${body.tier}`);
  const residency = body.residency === undefined ? t.residency : body.residency;
  checkPlacement(s, t.region, residency);
  const proxy = body.proxy === undefined ? t.proxy : body.proxy;
  checkProxyOrigin(proxy?.origin ?? null, residency);
  // A new dedicated origin must be one the routers may fetch (src/proxy/dedicated-origin.ts).
  if (body.proxy?.origin) checkOriginUrl(body.proxy.origin.url, t.region, s.config);
  let movedId: string | null = null;
  // A tier promises its isolation: a new tier of another one moves the data there first (online,
  // src/moves/), and only a completed move lets the tier change; a failed one changes nothing.
  if (template && body.tier !== t.tier && template.isolation !== t.isolation) {
    if (ifVersion !== null && ifVersion !== t.version) throw new AppError(412, 'PRECONDITION_FAILED', `the tenant is at version ${t.version}, not ${ifVersion}: nothing was changed`);
    audit(c, 'tenant.move', t.id, { from: { region: t.region, isolation: t.isolation }, to: { isolation: template.isolation }, reason: `tier ${body.tier}` });
    const report = await moveTenant(s, t, { isolation: template.isolation });
    audit(c, 'tenant.move', t.id, { moveId: report.moveId, from: report.from, to: report.to, fenceMs: report.fenceMs, copied: report.copied, tail: report.tail, reason: `tier ${body.tier}` });
    c.header('X-Tenant-Move', report.moveId);
    movedId = report.moveId;
    t = await requireTenant(s, t.id);
    if (ifVersion !== null) ifVersion = report.version;
  }
  // With If-Match, conditional in the UPDATE itself: a change committed since the version the
  // caller read makes it change nothing, never overwrite. Without, the last write wins.
  const [changed] = await commitAndInvalidate(s, [s.sql.query(
    `UPDATE tenants SET name = coalesce($2, name), tier = coalesce($3, tier), residency = $4,
       overrides = coalesce($5::jsonb, overrides), proxy = CASE WHEN $7::boolean THEN $8::jsonb ELSE proxy END,
       version = version + 1, updated_at = now()
     WHERE id = $1 AND ($6::bigint IS NULL OR version = $6) AND ($9::text IS NULL OR isolation = $9) RETURNING version`,
    [t.id, body.name ?? null, body.tier ?? null, residency, body.overrides ? JSON.stringify(toColumns(body.overrides)) : null, ifVersion,
      body.proxy !== undefined, body.proxy ? JSON.stringify(body.proxy) : null,
      // A tier is only set where the data is in its isolation: a move that switched the tenant since it was read refuses it.
      template && body.tier !== t.tier ? template.isolation : null])], lookupKeys(t)) as unknown[][];
  if (!changed || changed.length === 0) {
    const now = await requireTenant(s, t.id);
    const moved = movedId ? ` (the data was moved to ${now.isolation} first, move ${movedId}; the tier was not changed)` : '';
    if (template && now.isolation !== template.isolation) {
      throw new AppError(409, 'INVALID_STATE', `the tenant is ${now.isolation} now, not ${template.isolation} as tier ${body.tier} needs: it moved meanwhile; retry${moved}`);
    }
    throw new AppError(412, 'PRECONDITION_FAILED', `the tenant is at version ${now.version}, not ${ifVersion}: nothing was changed${moved}`);
  }
  audit(c, 'tenant.update', t.id, { fields: Object.keys(body) });
  // A new tier or overrides may change the connection limit of the tenant's role.
  if (body.tier !== undefined || body.overrides !== undefined) await applyConnectionLimit(s, t.id);
  const after = (await findTenant(s.sql, t.id))!;
  c.header('ETag', etagOf(after.version));
  return c.json(after, 200);
});

for (const [verb, suspended] of [['suspend', true], ['resume', false]] as const) {
  tenants.openapi(createRoute({
    method: 'post', path: `/{id}/${verb}`, tags, operationId: suspended ? 'suspendTenant' : 'resumeTenant',
    summary: suspended ? 'Suspend: routers answer 503 TENANT_SUSPENDED within their L1 TTL' : 'Resume a suspended tenant',
    request: { params: TenantRefParam },
    responses: { 200: one('The tenant'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
  }), async (c) => {
    const s = c.var.services;
    const t = await requireTenant(s, c.req.valid('param').id);
    audit(c, `tenant.${verb}`, t.id);
    await setSuspended(s, t, suspended);
    const after = (await findTenant(s.sql, t.id))!;
    c.header('ETag', etagOf(after.version));
    return c.json(after, 200);
  });
}

tenants.openapi(createRoute({
  method: 'post', path: '/{id}/provision', tags, operationId: 'provisionTenant',
  summary: 'Retry provisioning a tenant whose provisioning failed (409 PROVISIONING_IN_PROGRESS while another call provisions it)',
  request: { params: TenantRefParam },
  responses: { 200: one('Provisioned and active'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  audit(c, 'tenant.provision', t.id);
  await provisionTenant(s, t);
  const after = (await findTenant(s.sql, t.id))!;
  c.header('ETag', etagOf(after.version));
  return c.json(after, 200);
});

tenants.openapi(createRoute({
  method: 'delete', path: '/{id}', tags, operationId: 'deleteTenant',
  summary: "Delete a tenant and its storage; `confirm` must repeat the tenant's slug (If-Match: only at that version). The storage stays fenced until `purgeCompletesAt`",
  request: { params: TenantRefParam, headers: IfMatchHeader, query: z.object({ confirm: z.string().max(64).optional() }) },
  responses: { 200: jsonOk(DeletedSchema, 'Deleted; the purge completes at the first maintenance run after purgeCompletesAt'), ...ERRORS, ...NOT_FOUND, ...CONFLICT, ...PRECONDITION },
}), async (c) => {
  const s = c.var.services;
  const ifVersion = requiredVersion(c.req.header('if-match'));
  const t = await requireTenant(s, c.req.valid('param').id);
  if (c.req.valid('query').confirm !== t.slug) {
    throw new AppError(400, 'CONFIRMATION_REQUIRED', `deleting drops the tenant's data: repeat its slug as ?confirm=${t.slug}`);
  }
  audit(c, 'tenant.delete', t.id, { slug: t.slug });
  if (ifVersion !== null && t.version !== ifVersion) throw new AppError(412, 'PRECONDITION_FAILED', `the tenant is at version ${t.version}, not ${ifVersion}: nothing was deleted`);
  return c.json(await deleteTenant(s, t, ifVersion), 200);
});

tenants.openapi(createRoute({
  method: 'get', path: '/{id}/usage', tags, operationId: 'getTenantUsage',
  summary: 'Monthly usage (requests and bandwidth, metered by the TenantGuards), storage, and an invoice preview; a deleted tenant answers from its archive',
  request: { params: TenantRefParam, query: z.object({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/).optional() }) },
  responses: { 200: jsonOk(UsageSchema, 'Usage of the month (default: the current one)'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const s = c.var.services;
  const ref = c.req.valid('param').id;
  const month = c.req.valid('query').month ?? monthOf(Date.now());
  // The archive keeps a deleted tenant's terms at deletion; its usage rows stay.
  const t = await findTenant(s.sql, ref);
  const archived = t ? null : await findArchived(s.sql, ref);
  if (!t && !archived) throw new AppError(404, 'TENANT_NOT_FOUND', 'no such tenant');
  const id = t?.id ?? archived!.id;
  const [history, terms, storage] = await Promise.all([usageHistory(s.sql, id), archived ? archived.terms : billingTerms(s.sql, id), archived ? null : storageOf(s.sql, id)]);
  const used = history.find((h) => h.month === month) ?? { requests: 0, requestBytes: 0, responseBytes: 0 };
  const { requests, requestBytes, responseBytes } = used;
  const inv = invoicePreview(requests, terms.included, terms.hardCap, terms.pricing);
  audit(c, 'tenant.usage', id, { month, ...(archived ? { deletedAt: archived.deletedAt } : {}) });
  return c.json({
    tenantId: id, month, requests, requestBytes, responseBytes, included: terms.included, overage: inv.overage, hardCap: terms.hardCap,
    invoice: { currency: 'USD' as const, tier: terms.tier, baseCents: inv.baseCents, overageCents: inv.overageCents, totalCents: inv.totalCents, requestBytes, responseBytes },
    storage: storage && { ...storage, over: storage.bytes > storage.limitBytes },
    history, deletedAt: archived?.deletedAt ?? null,
  }, 200);
});

tenants.openapi(createRoute({
  method: 'post', path: '/{id}/migrate', tags, operationId: 'migrateTenant', summary: "Apply the catalogue's pending tenant migrations to this tenant",
  request: { params: TenantRefParam },
  responses: {
    200: jsonOk(z.object({ tenantId: z.uuid(), applied: z.array(z.string()), state: z.enum(['current', 'failed']), error: z.string().nullable() }), 'Outcome (a failed migration is reported, not thrown)'),
    ...ERRORS, ...NOT_FOUND, ...CONFLICT,
  },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const r = await migrateTenant(s, t);
  audit(c, 'tenant.migrate', t.id, { applied: r.applied, state: r.state });
  return c.json({ tenantId: t.id, ...r }, 200);
});
