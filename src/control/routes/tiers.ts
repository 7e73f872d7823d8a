/** /admin/v1/tiers: built-in tiers and custom templates, YAML export and import. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import type { ControlAppEnv } from '../app-env.js';
import { audit } from '../middleware.js';
import { deliver } from '../outbox.js';
import type { ControlServices } from '../services.js';
import { CreateTemplateSchema, PatchTemplateSchema, TemplateSchema } from '../schemas.js';
import { bumpTenantsOn, deleteTemplate, deriveTemplate, findTemplate, listTemplates, saveTemplate } from '../templates.js';
import { exportTemplates, importTemplates } from '../template-yaml.js';
import { CONFLICT, ERRORS, errorSpec, jsonBody, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const tiers = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['tiers and templates'];
const NameParam = z.object({ name: z.string().regex(/^[A-Z][A-Z0-9_]{1,39}$/).openapi({ param: { name: 'name', in: 'path' } }) });
const YAML = { 'text/yaml': { schema: z.string() } };

tiers.openapi(createRoute({
  method: 'get', path: '/', tags, operationId: 'listTemplates', summary: 'List tiers and templates',
  responses: { 200: jsonOk(z.object({ templates: z.array(TemplateSchema) }), 'All templates'), ...ERRORS },
}), async (c) => {
  audit(c, 'tier.list');
  return c.json({ templates: await listTemplates(c.var.services.sql) }, 200);
});

tiers.openapi(createRoute({
  method: 'get', path: '/export', tags, operationId: 'exportTemplates', summary: 'Export templates as YAML (all, or ?names=A,B)',
  request: { query: z.object({ names: z.string().max(2000).optional() }) },
  responses: { 200: { description: 'YAML document', content: YAML }, ...ERRORS },
}), async (c) => {
  const names = c.req.valid('query').names?.split(',').map((n) => n.trim()).filter(Boolean);
  const all = await listTemplates(c.var.services.sql);
  audit(c, 'tier.export', null, { names: names ?? 'all' });
  return c.body(exportTemplates(names ? all.filter((t) => names.includes(t.name)) : all), 200, { 'content-type': 'text/yaml; charset=utf-8' });
});

tiers.openapi(createRoute({
  method: 'post', path: '/import', tags, operationId: 'importTemplates', summary: 'Import templates from YAML; built-ins must match, custom ones are created or replaced',
  request: { body: { content: YAML, required: true } },
  responses: { 200: jsonOk(z.object({ created: z.array(z.string()), updated: z.array(z.string()), unchanged: z.array(z.string()) }), 'What changed'), ...ERRORS, ...CONFLICT },
}), async (c) => {
  const s = c.var.services;
  const templates = importTemplates(await c.req.text());
  const current = new Map((await listTemplates(s.sql)).map((t) => [t.name, t]));
  const out = { created: [] as string[], updated: [] as string[], unchanged: [] as string[] };
  for (const t of templates) {
    const have = current.get(t.name);
    if (have && JSON.stringify(have) === JSON.stringify(t)) { out.unchanged.push(t.name); continue; }
    if (have?.builtin || t.builtin) throw new AppError(409, 'INVALID_STATE', `built-in tier ${t.name} cannot be created or changed by import`);
    if (t.basedOn && !current.has(t.basedOn) && !templates.some((x) => x.name === t.basedOn)) {
      throw new AppError(400, 'INVALID_YAML', `${t.name}: basedOn ${t.basedOn} is not a known template`);
    }
    (have ? out.updated : out.created).push(t.name);
  }
  // Parents first, so based_on references resolve.
  const order = templates.filter((t) => out.created.includes(t.name) || out.updated.includes(t.name));
  for (const t of order.sort((a, b) => depth(a, templates) - depth(b, templates))) {
    await saveTemplate(s.sql, t, 'upsert');
    if (current.has(t.name)) await invalidateTenantsOn(s, t.name);
  }
  audit(c, 'tier.import', null, out);
  return c.json(out, 200);
});

/** Tenants on a changed template follow it: version bump, outbox row, invalidation. */
async function invalidateTenantsOn(s: ControlServices, name: string): Promise<void> {
  const row = await bumpTenantsOn(s.sql, name);
  if (row) await deliver(s, row.id, row.keys);
}

function depth(t: { basedOn: string | null; name: string }, all: { basedOn: string | null; name: string }[], seen = 0): number {
  const parent = t.basedOn ? all.find((x) => x.name === t.basedOn) : undefined;
  return parent && seen < 50 ? 1 + depth(parent, all, seen + 1) : 0;
}

tiers.openapi(createRoute({
  method: 'get', path: '/{name}', tags, operationId: 'getTemplate', summary: 'One template',
  request: { params: NameParam },
  responses: { 200: jsonOk(TemplateSchema, 'The template'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const t = await findTemplate(c.var.services.sql, c.req.valid('param').name);
  if (!t) throw new AppError(404, 'TEMPLATE_NOT_FOUND', 'no such template');
  audit(c, 'tier.get', null, { name: t.name });
  return c.json(t, 200);
});

tiers.openapi(createRoute({
  method: 'post', path: '/', tags, operationId: 'createTemplate', summary: 'Create a template from a tier or clone another template, with changes',
  request: { body: jsonBody(CreateTemplateSchema) },
  responses: { 201: jsonOk(TemplateSchema, 'The new template'), ...ERRORS, ...CONFLICT, 422: errorSpec('Unknown base template', ['TEMPLATE_NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED']) },
}), async (c) => {
  const s = c.var.services;
  const body = c.req.valid('json');
  const base = await findTemplate(s.sql, body.from);
  if (!base) throw new AppError(422, 'TEMPLATE_NOT_FOUND', `no tier or template ${body.from}`);
  const t = deriveTemplate(base, body.name, body);
  audit(c, 'tier.create', null, { name: t.name, from: base.name });
  await saveTemplate(s.sql, t, 'insert');
  return c.json(t, 201);
});

tiers.openapi(createRoute({
  method: 'patch', path: '/{name}', tags, operationId: 'updateTemplate', summary: "Change a custom template's limits, pricing or description (tenants on it follow)",
  request: { params: NameParam, body: jsonBody(PatchTemplateSchema) },
  responses: { 200: jsonOk(TemplateSchema, 'The changed template'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const s = c.var.services;
  const have = await findTemplate(s.sql, c.req.valid('param').name);
  if (!have) throw new AppError(404, 'TEMPLATE_NOT_FOUND', 'no such template');
  if (have.builtin) throw new AppError(409, 'INVALID_STATE', 'built-in tiers cannot be changed; create a template from it');
  const t = { ...deriveTemplate(have, have.name, c.req.valid('json')), basedOn: have.basedOn };
  audit(c, 'tier.update', null, { name: t.name });
  await saveTemplate(s.sql, t, 'upsert');
  await invalidateTenantsOn(s, t.name);
  return c.json(t, 200);
});

tiers.openapi(createRoute({
  method: 'delete', path: '/{name}', tags, operationId: 'deleteTemplate', summary: 'Delete a custom template no tenant uses',
  request: { params: NameParam },
  responses: { 200: jsonOk(z.object({ deleted: z.string() }), 'Deleted'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const name = c.req.valid('param').name;
  audit(c, 'tier.delete', null, { name });
  await deleteTemplate(c.var.services.sql, name);
  return c.json({ deleted: name }, 200);
});
