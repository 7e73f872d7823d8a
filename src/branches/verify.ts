/**
 * Verification of a branch: the rows of every table of its `public` schema, counted as the owner
 * acting as the tenant (`app.tenant_id` set: the tenant migrations force row-level security on
 * their owner too, so these are the rows the tenant's API can see), compared with what the
 * caller expects. Table names come from the catalogue and are quoted by PostgreSQL (`%I`), so no
 * name is ever spliced into SQL text here.
 */
import { withClient } from '../provisioning/pg-client.js';

export type TableCounts = Record<string, number>;
export interface Mismatch { table: string; expected: number; actual: number | null }

/** Rows per table of `public` that tenant `tenantId` sees, in one statement. */
export async function countRows(ownerUri: string, tenantId: string): Promise<TableCounts> {
  return withClient(ownerUri, async (c) => {
    await c.query("SELECT set_config('app.tenant_id', $1, false)", [tenantId]);
    const { rows } = await c.query<{ name: string; n: string }>(
      `SELECT c.relname AS name,
              (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text AS n
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname`);
    return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
  }, { statementTimeoutMs: 60_000 });
}

/** The tables whose count is not the expected one (a table missing from `actual` counts as null). */
export function compareCounts(actual: TableCounts, expected: TableCounts): Mismatch[] {
  return Object.entries(expected)
    .filter(([table, n]) => actual[table] !== n)
    .map(([table, n]) => ({ table, expected: n, actual: actual[table] ?? null }));
}
