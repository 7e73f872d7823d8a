/**
 * /admin/v1/alerts: what the scheduled alert rules opened (src/alerts/, docs/alerts.md), their
 * acknowledgement, and the operator's confirmation of a suggested remediation (suspend the tenant
 * or tighten its rate), applied through the same tenant-change path as every admin change.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import { applyRemediation, type Remediation } from '../../alerts/remediation.js';
import { AlertIdParam, AlertListSchema, AlertQuery, AlertSchema, RemediateBodySchema, RemediatedSchema } from '../../alerts/schemas.js';
import { acknowledge, listAlerts, moveRemediation, requireAlert } from '../../alerts/store.js';
import type { ControlAppEnv } from '../app-env.js';
import { requireTenant } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { findTenant } from '../tenant-repo.js';
import { CONFLICT, ERRORS, jsonBody, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const alerts = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['alerts'];
const NOBODY = '00000000-0000-0000-0000-000000000000';

alerts.openapi(createRoute({
  method: 'get', path: '/', tags, operationId: 'listAlerts',
  summary: 'Alerts, newest first (filters: state, tenant id or slug; opaque cursor)',
  request: { query: AlertQuery },
  responses: { 200: jsonOk(AlertListSchema, 'A page of alerts'), ...ERRORS },
}), async (c) => {
  const q = c.req.valid('query');
  let tenantId = q.tenant;
  if (tenantId && !/^[0-9a-f-]{36}$/i.test(tenantId)) tenantId = (await findTenant(c.var.services.sql, tenantId))?.id ?? NOBODY;
  audit(c, 'alert.list', null, { state: q.state });
  return c.json(await listAlerts(c.var.services.sql, { state: q.state === 'all' ? undefined : q.state, tenantId, limit: q.limit, cursor: q.cursor }), 200);
});

alerts.openapi(createRoute({
  method: 'get', path: '/{id}', tags, operationId: 'getAlert', summary: 'One alert',
  request: { params: AlertIdParam },
  responses: { 200: jsonOk(AlertSchema, 'The alert'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const a = await requireAlert(c.var.services.sql, c.req.valid('param').id);
  audit(c, 'alert.get', a.tenantId);
  return c.json(a, 200);
});

alerts.openapi(createRoute({
  method: 'post', path: '/{id}/acknowledge', tags, operationId: 'acknowledgeAlert',
  summary: 'Acknowledge an open alert: no further notifications; it still resolves on its own (409 INVALID_STATE once resolved)',
  request: { params: AlertIdParam },
  responses: { 200: jsonOk(AlertSchema, 'The acknowledged alert'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const s = c.var.services;
  const a = await acknowledge(s.sql, c.req.valid('param').id, c.var.admin.actor);
  audit(c, 'alert.acknowledge', a.tenantId, { alertId: a.id, rule: a.rule });
  return c.json(a, 200);
});

alerts.openapi(createRoute({
  method: 'post', path: '/{id}/remediate', tags, operationId: 'remediateAlert',
  summary: "Apply the alert's suggested remediation (suspend the tenant, or tighten its rate and burst); `action` must repeat the suggestion",
  request: { params: AlertIdParam, body: jsonBody(RemediateBodySchema) },
  responses: { 200: jsonOk(RemediatedSchema, 'Applied: the alert and the changed tenant'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const s = c.var.services;
  const a = await requireAlert(s.sql, c.req.valid('param').id);
  const r = a.remediation;
  if (!r || !a.tenantId) throw new AppError(409, 'INVALID_STATE', 'this alert suggests no remediation');
  if (r.state !== 'suggested') throw new AppError(409, 'INVALID_STATE', `the remediation is ${r.state} already`);
  if (a.state === 'resolved') throw new AppError(409, 'INVALID_STATE', 'the alert is resolved: nothing to remediate');
  const action = c.req.valid('json').action;
  if (action !== r.action) throw new AppError(400, 'CONFIRMATION_REQUIRED', `the suggested action is ${r.action}: confirm it with {"action":"${r.action}"}`);
  const t = await requireTenant(s, a.tenantId);
  audit(c, 'alert.remediate', t.id, { alertId: a.id, rule: a.rule, action: r.action, ...r.params });
  // The claim: two confirmations at once apply it once.
  if (!(await moveRemediation(s.sql, a.id, 'suggested', { ...r, state: 'applying' }))) throw new AppError(409, 'INVALID_STATE', 'the remediation is being applied already');
  try {
    await applyRemediation(s, t, r);
  } catch (err) {
    await moveRemediation(s.sql, a.id, 'applying', r).catch(() => {});
    throw err;
  }
  const applied: Remediation = { ...r, state: 'applied', appliedAt: new Date().toISOString(), appliedBy: c.var.admin.actor };
  await moveRemediation(s.sql, a.id, 'applying', applied);
  const after = (await findTenant(s.sql, t.id))!;
  return c.json({ alert: await requireAlert(s.sql, a.id), tenant: { id: after.id, slug: after.slug, status: after.status, version: after.version } }, 200);
});
