/**
 * How much a tenant stores, measured the way its isolation allows (docs/quotas.md has the error
 * of each method):
 *
 * - `schema` (`schema_relations`): pg_total_relation_size of every table and materialised view
 *   in the tenant's schema: heap, TOAST, indexes and free space, exactly what the schema occupies.
 * - `database` (`database_size`): pg_database_size of the tenant's database, read through its own
 *   (sealed) connection: every file of the database, catalogues included.
 * - `row` (`row_tuples`): the tenant shares its tables, so its share is summed row by row:
 *   pg_column_size(t.*) of each of its rows in every shared table with a `tenant_id`, i.e. the
 *   tuple data as stored (compressed values at their compressed size), without the indexes,
 *   page headers, item pointers and free space that the tenants share. RLS is forced even on the
 *   owner, so each tenant is read inside its own transaction with `app.tenant_id` set.
 *
 * The role's current CONNECTION LIMIT is read on the way, for the reconciliation in refresh.ts.
 * Identifiers come from the placement (validated `t_<hex>`) and the catalogue (format('%I')).
 */
import { neon } from '@neondatabase/serverless';
import type { Client } from '@neondatabase/serverless';
import { inTransaction, withClient } from '../provisioning/pg-client.js';
import { sharedTables } from '../provisioning/router-objects.js';

export type Method = 'row_tuples' | 'schema_relations' | 'database_size';

/** One tenant's storage as measured, and its role's connection limit (null: no role of its own, -1: none set). */
export interface Measurement { bytes: number; method: Method; connectionLimit: number | null }

const IDENT = /^t_[0-9a-f]{32}$/;
const LIMITS = { connectTimeoutMs: 10_000, statementTimeoutMs: 60_000 };
const DATABASE_TIMEOUT_MS = 10_000;

const SCHEMA_SIZES = `
SELECT n.nspname AS schema, coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 'm')), 0)::bigint AS bytes
  FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
 WHERE n.nspname = ANY($1::text[]) GROUP BY n.nspname`;
const ROLE_LIMITS = 'SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = ANY($1::text[])';
const DATABASE_SIZE = `SELECT pg_database_size(current_database())::bigint AS bytes,
  (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user) AS connlimit`;

/** The sum of pg_column_size over one tenant's rows in `tables` (quoted names), as one query. */
export function rowTuplesQuery(tables: string[]): string {
  if (tables.length === 0) return 'SELECT 0::bigint AS bytes';
  return `SELECT (${tables.map((t) => `(SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM ${t} x WHERE x.tenant_id = $1)`).join(' + ')})::bigint AS bytes`;
}

/**
 * Measures the `row` and `schema` tenants of one region through its owner connection (`adminUrl`):
 * one query for all schema tenants, one transaction per row tenant. Keys: tenant ids.
 */
export async function measureRegion(
  adminUrl: string, rowTenants: string[], schemaTenants: { tenantId: string; schema: string; role: string }[],
): Promise<Map<string, Measurement>> {
  const out = new Map<string, Measurement>();
  await withClient(adminUrl, async (c) => {
    if (schemaTenants.length) await measureSchemas(c, schemaTenants, out);
    if (rowTenants.length) {
      const query = rowTuplesQuery(await sharedTables(c));
      for (const id of rowTenants) {
        const bytes = await inTransaction(c, async () => {
          await c.query("SELECT set_config('app.tenant_id', $1, true)", [id]);
          return Number((await c.query<{ bytes: string }>(query, [id])).rows[0]?.bytes ?? 0);
        });
        out.set(id, { bytes, method: 'row_tuples', connectionLimit: null });
      }
    }
  }, LIMITS);
  return out;
}

async function measureSchemas(c: Client, tenants: { tenantId: string; schema: string; role: string }[], out: Map<string, Measurement>): Promise<void> {
  const valid = tenants.filter((t) => IDENT.test(t.schema) && IDENT.test(t.role));
  const sizes = new Map((await c.query<{ schema: string; bytes: string }>(SCHEMA_SIZES, [valid.map((t) => t.schema)])).rows.map((r) => [r.schema, Number(r.bytes)]));
  const limits = new Map((await c.query<{ rolname: string; rolconnlimit: number }>(ROLE_LIMITS, [valid.map((t) => t.role)])).rows.map((r) => [r.rolname, Number(r.rolconnlimit)]));
  // A schema that is not there (yet, or any more) is not measured: no row is better than a wrong 0.
  for (const t of valid) {
    const bytes = sizes.get(t.schema);
    if (bytes !== undefined) out.set(t.tenantId, { bytes, method: 'schema_relations', connectionLimit: limits.get(t.role) ?? null });
  }
}

/** Measures a dedicated database through the tenant's own connection string (one HTTP round trip). */
export async function measureDatabase(url: string): Promise<Measurement> {
  const sql = neon(url);
  const rows = await sql.query(DATABASE_SIZE, [], { fetchOptions: { signal: AbortSignal.timeout(DATABASE_TIMEOUT_MS) } }) as { bytes: string; connlimit: number | null }[];
  const r = rows[0]!;
  return { bytes: Number(r.bytes), method: 'database_size', connectionLimit: r.connlimit === null ? null : Number(r.connlimit) };
}
