/**
 * Copying one tenant's rows from one placement to another, through two owner connections (the
 * source's and the target's database; the same cluster or two regions apart): every table of the
 * target schema that has a `tenant_id` column, the tenant's rows only, in pages by primary key.
 *
 * - `copyAll`: the bulk copy, while the tenant still writes to the source;
 * - `syncTail`: under the write fence, brings the target level with the source by each row's
 *   digest (inserts what is new, replaces what changed, deletes what is gone), so the fence lasts
 *   as long as the rows that changed take, not the whole data;
 * - `digestOf`: per table, the row count and one digest over every row in primary-key order, on
 *   either side: equal on both sides is what lets a move switch.
 *
 * Rows travel in PostgreSQL's own row text (`r::text` out, a cast to the target table's row type
 * in), with the settings that text depends on fixed on both sessions: lossless for every column
 * type (JSON would turn a jsonb `null` into NULL and cut numerics to a double's digits). Identifiers
 * come from the database's catalogue and the placements' validated schema names, never from a
 * request; values only ever travel as bound parameters.
 */
import type { Client } from '@neondatabase/serverless';

/** A table the tenant has rows in, with its single-column primary key. */
export interface TenantTable { name: string; key: string }

/** Per table: how many of the tenant's rows, and one digest over them in key order. */
export type Digest = Record<string, { rows: number; digest: string }>;

/** Rows per page of a copy. */
export const PAGE_ROWS = 500;

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const SCHEMA = /^(shared|public|t_[0-9a-f]{32})$/;

/** `"name"` for an identifier of the catalogue, checked first. */
export function quoteIdent(name: string): string {
  if (!IDENT.test(name)) throw new Error(`unexpected identifier ${JSON.stringify(name.slice(0, 80))}`);
  return `"${name}"`;
}

export function qualified(schema: string, table: string): string {
  if (!SCHEMA.test(schema)) throw new Error('unexpected schema name');
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/**
 * The tables of `schema` with a `tenant_id` column (the schema's migrations bookkeeping aside), and
 * their primary key; throws for a table whose key is not one column (it could not be paged or diffed).
 */
export async function tenantTables(c: Client, schema: string): Promise<TenantTable[]> {
  const { rows } = await c.query<{ name: string; keys: string[] | null }>(
    `SELECT cl.relname::text AS name,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = cl.oid AND i.indisprimary) AS keys
       FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
      WHERE n.nspname = $1 AND cl.relkind IN ('r', 'p') AND cl.relname <> 'schema_migrations'
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = cl.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
      ORDER BY cl.relname`, [schema]);
  return rows.map((r) => {
    if (!r.keys || r.keys.length !== 1) throw new Error(`table ${r.name} has no single-column primary key: it cannot be moved`);
    return { name: r.name, key: r.keys[0]! };
  });
}

/**
 * Prepares an owner session for copying: admits the tenant's rows through forced row-level security
 * (the owner does not bypass it) and fixes every setting a row's text depends on, so the same row
 * has the same digest in two clusters whatever their defaults.
 */
export async function prepareSession(c: Client, tenantId: string): Promise<void> {
  await c.query(`SELECT set_config('app.tenant_id', $1, false), set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, MDY', false),
                        set_config('IntervalStyle', 'postgres', false), set_config('extra_float_digits', '1', false), set_config('bytea_output', 'hex', false)`, [tenantId]);
}

/** A key as text in byte order: the same order on both sides, whatever their collations. */
const keyText = (key: string) => `(r.${key}::text COLLATE "C")`;

/** Copies every row of the tenant from `from` to `to` (the target's tables are empty of it first); the rows copied per table. */
export async function copyAll(src: Client, from: string, dst: Client, to: string, tenantId: string, tables: TenantTable[]): Promise<Record<string, number>> {
  const copied: Record<string, number> = {};
  for (const t of tables) {
    const key = quoteIdent(t.key);
    let after: string | null = null;
    let n = 0;
    for (;;) {
      const page: { rows: { page: string[] | null; last: string | null }[] } = await src.query<{ page: string[] | null; last: string | null }>(
        `SELECT array_agg(s.row ORDER BY s.k) AS page, max(s.k) AS last FROM (
           SELECT r::text AS row, ${keyText(key)} AS k FROM ${qualified(from, t.name)} r
            WHERE r.tenant_id = $1 AND ($2::text IS NULL OR ${keyText(key)} > $2::text COLLATE "C")
            ORDER BY 2 LIMIT ${PAGE_ROWS}) s`, [tenantId, after]);
      const rows = page.rows[0]?.page ?? null;
      if (!rows || rows.length === 0) break;
      await insertRows(dst, to, t.name, rows);
      n += rows.length;
      after = page.rows[0]!.last;
      if (rows.length < PAGE_ROWS) break;
    }
    copied[t.name] = n;
  }
  return copied;
}

/** Inserts rows given in PostgreSQL's own row text (lossless: NULL is not JSON null, numerics keep every digit). */
async function insertRows(dst: Client, schema: string, table: string, rows: string[]): Promise<void> {
  const target = qualified(schema, table);
  await dst.query(`INSERT INTO ${target} SELECT (x::${target}).* FROM unnest($1::text[]) x`, [rows]);
}

/** Each of the tenant's rows in `schema.table`: key (as text) → digest of the row. */
async function rowDigests(c: Client, schema: string, t: TenantTable, tenantId: string): Promise<Map<string, string>> {
  const key = quoteIdent(t.key);
  const { rows } = await c.query<{ k: string; d: string }>(
    `SELECT r.${key}::text AS k, md5(r::text) AS d FROM ${qualified(schema, t.name)} r WHERE r.tenant_id = $1`, [tenantId]);
  return new Map(rows.map((r) => [r.k, r.d]));
}

/** What a tail sync changed per table. */
export type TailReport = Record<string, { inserted: number; replaced: number; deleted: number }>;

/**
 * Makes the target's rows of the tenant equal to the source's: run under the write fence, after
 * copyAll. Compares row digests, then moves only the rows that differ.
 */
export async function syncTail(src: Client, from: string, dst: Client, to: string, tenantId: string, tables: TenantTable[]): Promise<TailReport> {
  const report: TailReport = {};
  for (const t of tables) {
    const [a, b] = await Promise.all([rowDigests(src, from, t, tenantId), rowDigests(dst, to, t, tenantId)]);
    const { insert, replace, remove } = diffDigests(a, b);
    const stale = [...replace, ...remove];
    const key = quoteIdent(t.key);
    if (stale.length > 0) await dst.query(`DELETE FROM ${qualified(to, t.name)} r WHERE r.tenant_id = $1 AND r.${key}::text = ANY ($2::text[])`, [tenantId, stale]);
    const wanted = [...insert, ...replace];
    for (let i = 0; i < wanted.length; i += PAGE_ROWS) {
      const keys = wanted.slice(i, i + PAGE_ROWS);
      const page = await src.query<{ page: string[] | null }>(
        `SELECT array_agg(r::text) AS page FROM ${qualified(from, t.name)} r WHERE r.tenant_id = $1 AND r.${key}::text = ANY ($2::text[])`, [tenantId, keys]);
      const rows = page.rows[0]?.page ?? [];
      if (rows.length > 0) await insertRows(dst, to, t.name, rows);
    }
    report[t.name] = { inserted: insert.length, replaced: replace.length, deleted: remove.length };
  }
  return report;
}

/** Keys to insert (only in the source), replace (in both, different) and remove (only in the target). Pure. */
export function diffDigests(source: Map<string, string>, target: Map<string, string>): { insert: string[]; replace: string[]; remove: string[] } {
  const insert: string[] = [];
  const replace: string[] = [];
  const remove: string[] = [];
  for (const [k, d] of source) {
    const there = target.get(k);
    if (there === undefined) insert.push(k);
    else if (there !== d) replace.push(k);
  }
  for (const k of target.keys()) if (!source.has(k)) remove.push(k);
  return { insert, replace, remove };
}

/** Per table, the tenant's row count and a digest over its rows in key order. */
export async function digestOf(c: Client, schema: string, tenantId: string, tables: TenantTable[]): Promise<Digest> {
  const out: Digest = {};
  for (const t of tables) {
    const key = quoteIdent(t.key);
    const { rows } = await c.query<{ n: number; d: string | null }>(
      `SELECT count(*)::int AS n, md5(string_agg(md5(r::text), '' ORDER BY ${keyText(key)})) AS d
         FROM ${qualified(schema, t.name)} r WHERE r.tenant_id = $1`, [tenantId]);
    out[t.name] = { rows: rows[0]?.n ?? 0, digest: rows[0]?.d ?? '' };
  }
  return out;
}

/** The tables whose count or digest differ between two sides (empty: the copy is exact). Pure. */
export function digestMismatches(a: Digest, b: Digest): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((n) => a[n]?.rows !== b[n]?.rows || a[n]?.digest !== b[n]?.digest).sort();
}
