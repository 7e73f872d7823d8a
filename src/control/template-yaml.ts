/**
 * Templates as YAML, pure. Export writes keys in a fixed order, so export → import → export
 * gives the same bytes; import validates every template with the API's own schema.
 */
import { parse, stringify } from 'yaml';
import { z } from '@hono/zod-openapi';
import { AppError } from '../errors.js';
import { TemplateSchema, type Template } from './schemas.js';

export const YAML_KIND = 'TierTemplates';
export const YAML_VERSION = 'tenant-router/v1';

const DocumentSchema = z.object({
  apiVersion: z.literal(YAML_VERSION),
  kind: z.literal(YAML_KIND),
  templates: z.array(TemplateSchema).max(1000),
}).strict();

const LIMIT_ORDER = ['ratePerMinute', 'burst', 'monthlyRequests', 'hardCap', 'concurrency', 'failMode', 'breakerFailures',
  'breakerWindowSeconds', 'breakerCooldownSeconds', 'storageMb', 'connectionLimit', 'maxBodyBytes'] as const;

/** The YAML document for `templates`. */
export function exportTemplates(templates: Template[]): string {
  const ordered = templates.map((t) => ({
    name: t.name, builtin: t.builtin, basedOn: t.basedOn, description: t.description, isolation: t.isolation,
    limits: Object.fromEntries(LIMIT_ORDER.map((k) => [k, t.limits[k]])),
    pricing: { monthlyCents: t.pricing.monthlyCents, overageCentsPer1k: t.pricing.overageCentsPer1k },
  }));
  return stringify({ apiVersion: YAML_VERSION, kind: YAML_KIND, templates: ordered }, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Parses and validates a YAML document; 400 INVALID_YAML naming the first problem. */
export function importTemplates(text: string): Template[] {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 0 });
  } catch (err) {
    throw new AppError(400, 'INVALID_YAML', `not YAML: ${String((err as Error).message).split('\n')[0]!.slice(0, 200)}`);
  }
  const r = DocumentSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new AppError(400, 'INVALID_YAML', `${i.path.join('.') || 'document'}: ${i.message}`);
  }
  const names = new Set<string>();
  for (const t of r.data.templates) {
    if (names.has(t.name)) throw new AppError(400, 'INVALID_YAML', `template ${t.name} appears twice`);
    names.add(t.name);
  }
  return r.data.templates;
}
