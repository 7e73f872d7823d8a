/**
 * Tiers and templates: the six built-ins of the architecture and custom templates made from one
 * of them (or from another template). A template change reaches every tenant on it: their
 * versions are bumped and their cache entries deleted.
 */
import { AppError } from '../errors.js';
import { db, type Sql } from './db.js';
import { WRITER_LEASE } from './outbox.js';
import { LIMIT_COLUMNS, type Limits, type Template } from './schemas.js';
import type { LookupKey } from '../tenancy/tenant.js';

const COLUMNS = Object.values(LIMIT_COLUMNS);

const SELECT = `SELECT name, builtin, based_on, description, isolation, ${COLUMNS.join(', ')}, price_cents_month, overage_cents_per_1k FROM tiers`;

type Row = Record<string, unknown> & { name: string; builtin: boolean; based_on: string | null; description: string; isolation: Template['isolation'] };

function toTemplate(r: Row): Template {
  const limits = Object.fromEntries(Object.entries(LIMIT_COLUMNS).map(([k, col]) => [k, typeof r[col] === 'string' && col !== 'fail_mode' ? Number(r[col]) : r[col]])) as Limits;
  return {
    name: r.name, builtin: r.builtin, basedOn: r.based_on, description: r.description, isolation: r.isolation, limits,
    pricing: { monthlyCents: Number(r.price_cents_month), overageCentsPer1k: Number(r.overage_cents_per_1k) },
  };
}

/** Built-ins first (in the architecture's order, cheapest first), then custom templates by name. */
export async function listTemplates(sql: Sql): Promise<Template[]> {
  const rows = await db(() => sql.query(`${SELECT} ORDER BY builtin DESC, price_cents_month, name`)) as Row[];
  return rows.map(toTemplate);
}

export async function findTemplate(sql: Sql, name: string): Promise<Template | null> {
  const rows = await db(() => sql.query(`${SELECT} WHERE name = $1`, [name])) as Row[];
  return rows[0] ? toTemplate(rows[0]) : null;
}

/** Inserts or (for a custom template) replaces `t`; built-ins cannot be changed. */
export async function saveTemplate(sql: Sql, t: Template, mode: 'insert' | 'upsert'): Promise<void> {
  const values = [t.name, t.isolation, ...Object.keys(LIMIT_COLUMNS).map((k) => t.limits[k as keyof Limits]),
    t.pricing.monthlyCents, t.pricing.overageCentsPer1k, t.basedOn, t.description];
  const params = values.map((_, i) => `$${i + 1}`).join(', ');
  const sets = ['isolation', ...COLUMNS, 'price_cents_month', 'overage_cents_per_1k', 'based_on', 'description'].map((c) => `${c} = EXCLUDED.${c}`).join(', ');
  const conflict = mode === 'upsert' ? `ON CONFLICT (name) DO UPDATE SET ${sets} WHERE NOT tiers.builtin` : '';
  await db(() => sql.query(
    `INSERT INTO tiers (name, isolation, ${COLUMNS.join(', ')}, price_cents_month, overage_cents_per_1k, based_on, description, builtin)
     VALUES (${params}, false) ${conflict}`, values));
}

/** Deletes a custom template no tenant uses. */
export async function deleteTemplate(sql: Sql, name: string): Promise<void> {
  const t = await findTemplate(sql, name);
  if (!t) throw new AppError(404, 'TEMPLATE_NOT_FOUND', `no template ${name}`);
  if (t.builtin) throw new AppError(409, 'INVALID_STATE', 'built-in tiers cannot be deleted');
  await db(() => sql.query('DELETE FROM tiers WHERE name = $1', [name]));
}

/** A copy of `base` under a new name, with changes applied (pure). */
export function deriveTemplate(base: Template, name: string, change: { description?: string; isolation?: Template['isolation']; limits?: Partial<Limits>; pricing?: Partial<Template['pricing']> }): Template {
  return {
    name, builtin: false, basedOn: base.name, description: change.description ?? base.description,
    isolation: change.isolation ?? base.isolation,
    limits: { ...base.limits, ...stripUndefined(change.limits) },
    pricing: { ...base.pricing, ...stripUndefined(change.pricing) },
  };
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The nearest built-in ancestor of template `name` (itself when built in), or null when the chain is cut. */
export async function builtinRoot(sql: Sql, name: string): Promise<string | null> {
  const rows = await db(() => sql.query(
    `WITH RECURSIVE chain AS (
       SELECT name, based_on, builtin, 0 AS depth FROM tiers WHERE name = $1
       UNION ALL SELECT t.name, t.based_on, t.builtin, c.depth + 1 FROM tiers t JOIN chain c ON t.name = c.based_on WHERE c.depth < 50)
     SELECT name FROM chain WHERE builtin ORDER BY depth LIMIT 1`, [name])) as { name: string }[];
  return rows[0]?.name ?? null;
}

/**
 * Bumps the version of every tenant on `name` and records their router cache keys in the
 * invalidation outbox, in one statement; returns the outbox row (null when no tenant uses it).
 */
export async function bumpTenantsOn(sql: Sql, name: string): Promise<{ id: string; keys: LookupKey[] } | null> {
  const rows = await db(() => sql.query(
    `WITH b AS (UPDATE tenants SET version = version + 1, updated_at = now() WHERE tier = $1 RETURNING id, slug),
     k AS (SELECT jsonb_build_object('kind', 'id', 'value', b.id::text) AS key FROM b
           UNION ALL SELECT jsonb_build_object('kind', 'slug', 'value', b.slug) FROM b
           UNION ALL SELECT jsonb_build_object('kind', 'domain', 'value', d.hostname) FROM b JOIN tenant_domains d ON d.tenant_id = b.id
           UNION ALL SELECT jsonb_build_object('kind', 'issuer', 'value', j.issuer) FROM b JOIN tenant_jwt j ON j.tenant_id = b.id)
     INSERT INTO cache_outbox (keys, next_at) SELECT jsonb_agg(key), now() + ${WRITER_LEASE} FROM k HAVING count(*) > 0
     RETURNING id, keys`, [name])) as { id: string; keys: LookupKey[] }[];
  return rows[0] ?? null;
}
