/** The alerts API's schemas (validation and OpenAPI from the same zod objects). */
import { z } from '@hono/zod-openapi';
import { RULES } from './rules.js';

const RemediationSchema = z.object({
  action: z.enum(['suspend', 'tighten_rate']),
  params: z.object({ ratePerMinute: z.number().int().optional(), burst: z.number().int().optional() })
    .openapi({ description: 'tighten_rate: the rate and burst the tenant would be set to' }),
  state: z.enum(['suggested', 'applying', 'applied']),
  appliedAt: z.string().optional(),
  appliedBy: z.string().optional(),
}).openapi('AlertRemediation', { description: 'What an operator may confirm with POST /alerts/{id}/remediate' });

export const AlertSchema = z.object({
  id: z.uuid(),
  rule: z.enum(Object.keys(RULES) as [keyof typeof RULES, ...(keyof typeof RULES)[]]),
  scope: z.enum(['tenant', 'region', 'platform']),
  tenantId: z.uuid().nullable(),
  region: z.string().nullable(),
  severity: z.enum(['info', 'warning', 'critical']),
  state: z.enum(['open', 'acknowledged', 'resolved']),
  openedAt: z.string(),
  lastSeenAt: z.string().openapi({ description: 'The last evaluation that found the condition still true' }),
  resolvedAt: z.string().nullable(),
  acknowledgedAt: z.string().nullable(),
  acknowledgedBy: z.string().nullable(),
  occurrences: z.number().int().openapi({ description: 'Evaluations that found the condition while the alert was unresolved (deduplicated into this alert)' }),
  summary: z.string(),
  detail: z.record(z.string(), z.unknown()),
  remediation: RemediationSchema.nullable(),
}).openapi('Alert');

export const AlertListSchema = z.object({ alerts: z.array(AlertSchema), nextCursor: z.string().nullable() }).openapi('AlertList');

export const AlertQuery = z.object({
  state: z.enum(['open', 'acknowledged', 'resolved', 'all']).default('all'),
  tenant: z.string().max(64).optional().openapi({ description: 'Tenant id or slug' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().openapi({ description: 'nextCursor of the previous page, as is' }),
});

export const AlertIdParam = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'Alert id' }),
});

export const RemediateBodySchema = z.object({
  action: z.enum(['suspend', 'tighten_rate']).openapi({ description: "Repeats the alert's suggested action: the operator's confirmation of what will be done" }),
}).strict().openapi('RemediateBody');

export const RemediatedSchema = z.object({
  alert: AlertSchema,
  tenant: z.object({ id: z.uuid(), slug: z.string(), status: z.string(), version: z.number().int() }),
}).openapi('Remediated');
