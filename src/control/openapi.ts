/**
 * The admin API's OpenAPI 3.1 document: generated from the routes' zod schemas, then completed
 * with what every operation shares (so no route can forget it): the `X-Request-Id` header of
 * every answer, and on every POST the `Idempotency-Key` parameter, the `Idempotent-Replayed`
 * header of a replay and the idempotency refusals. `servers` names the origin that was asked.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';

type Json = Record<string, any>;

const TAGS = [
  { name: 'tenants', description: 'Tenants: lifecycle, settings, usage, storage provisioning and migration' },
  { name: 'domains and settings', description: "A tenant's custom domains, IdP and geo policy" },
  { name: 'tiers and templates', description: 'Built-in tiers, custom templates, YAML export and import' },
  { name: 'audit', description: 'The hash-chained audit log' },
  { name: 'migrations', description: 'The tenant migration catalogue and per-tenant progress' },
  { name: 'alerts', description: 'Alerts of the scheduled rules and anomaly detection: list, acknowledge, remediate' },
];

const string = { type: 'string' };
const HEADERS = {
  RequestId: { description: 'The request id (echoed from a well-formed X-Request-Id or CF-Ray, else new); quote it in reports', schema: string },
  IdempotentReplayed: { description: '`true` when this is the kept answer to an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
  RetryAfter: { description: 'Seconds after which a retry may succeed', schema: { type: 'integer', minimum: 0 } },
};
const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key', in: 'header', required: false,
  description: 'Makes the POST safe to retry: the same key with the same request replays the first answer for 24 hours (see docs/admin-api.md)',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[ -~]+$' },
};
const idempotencyError = (description: string, code: string) => ({
  description,
  headers: { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } },
  content: { 'application/json': { schema: { type: 'object', required: ['error'], properties: { error: {
    type: 'object', required: ['code', 'message', 'requestId'],
    properties: { code: { type: 'string', enum: [code] }, message: string, requestId: { type: ['string', 'null'] } },
  } } } } },
});

/** The document for `app`, as served from `origin`. */
export function openApiDocument(app: OpenAPIHono<any>, origin: string): Json {
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'Tenant router control plane', version: '1.0.0', description: 'Tenants, domains, templates, provisioning, usage, audit and migrations.' },
    servers: [{ url: origin, description: 'This control plane' }],
    security: [{ adminBearer: [] }],
    tags: TAGS,
  }) as Json;
  doc.components = { ...doc.components, headers: HEADERS, parameters: { ...doc.components?.parameters, IdempotencyKey: IDEMPOTENCY_KEY } };
  for (const ops of Object.values(doc.paths ?? {}) as Json[]) {
    for (const [method, op] of Object.entries(ops) as [string, Json][]) complete(method, op);
  }
  return doc;
}

function complete(method: string, op: Json): void {
  if (method === 'post') {
    op.parameters = [...(op.parameters ?? []), { $ref: '#/components/parameters/IdempotencyKey' }];
    op.responses['409'] ??= idempotencyError('A request with this Idempotency-Key is still in progress', 'IDEMPOTENCY_CONFLICT');
    op.responses['422'] ??= idempotencyError('This Idempotency-Key was used with another request', 'IDEMPOTENCY_KEY_REUSED');
  }
  for (const [status, res] of Object.entries(op.responses ?? {}) as [string, Json][]) {
    res.headers = { 'X-Request-Id': { $ref: '#/components/headers/RequestId' }, ...res.headers };
    if (method === 'post' && status.startsWith('2')) res.headers['Idempotent-Replayed'] = { $ref: '#/components/headers/IdempotentReplayed' };
    if (status === '409' || status === '503') res.headers['Retry-After'] = { $ref: '#/components/headers/RetryAfter' };
  }
}
