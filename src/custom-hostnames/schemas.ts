/** The admin API's shapes for custom domains (validation and OpenAPI from one zod schema each). */
import { z } from '@hono/zod-openapi';
import { TenantRefParam } from '../control/schemas.js';

export const DomainRecordSchema = z.object({
  type: z.enum(['CNAME', 'TXT', 'HTTP']),
  name: z.string().openapi({ description: 'DNS name (HTTP: the URL the certificate authority fetches)' }),
  value: z.string().openapi({ description: 'Record content (CNAME: the target; HTTP: the body to serve)' }),
  purpose: z.enum(['traffic', 'ownership', 'certificate']),
}).openapi('DomainRecord');

export const DomainViewSchema = z.object({
  hostname: z.string(),
  tenantId: z.uuid(),
  status: z.enum(['pending', 'active', 'failed']).openapi({ description: 'Served by the routers only when `active`' }),
  statusDetail: z.string().nullable().openapi({ description: "Cloudflare's state and errors in words" }),
  records: z.array(DomainRecordSchema).openapi({ description: 'What the tenant publishes in its DNS' }),
  cloudflareId: z.string().nullable().openapi({ description: "Cloudflare's custom hostname id (null with CUSTOM_HOSTNAMES=off)" }),
  createdAt: z.string(),
  checkedAt: z.string().nullable(),
  activatedAt: z.string().nullable(),
  nextCheckAt: z.string().nullable().openapi({ description: 'When maintenance checks a pending domain next' }),
}).openapi('DomainView');

/** `{id}` and `{hostname}` path parameters. */
export const DomainParam = TenantRefParam.extend({
  hostname: z.string().max(253).openapi({ param: { name: 'hostname', in: 'path' } }),
});
