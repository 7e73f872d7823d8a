/**
 * Many migration targets over one connection: the fleet path of `tenantctl migrate`. The work runs
 * in the server, in two session-local functions (pg_temp, gone with the connection), so that a
 * batch costs one round trip to learn what every target has and one per target that needs work:
 *
 *   pg_temp.tenant_migrations_applied(schemas)   every target's schema_migrations, in one call
 *   pg_temp.tenant_migrations_apply(schema, …)   one target's pending migrations, one transaction
 *   pg_temp.tenant_migrations_revert(schema, …)  one target's `down`s, one transaction
 *
 * Semantics match `applyMigrations` (checksums, the same advisory lock, the same record table),
 * except that a target's pending migrations commit together: a target is at its old head or at
 * the new one, never between. Each call sets a `lock_timeout`, so a migration never queues behind
 * a long transaction of the tenant (a queued ACCESS EXCLUSIVE would stall every later request of
 * it): it fails instead, and the tenant is retried by the next run. Schema names reach the server
 * as bound parameters and are quoted there (`format('%I')`); they never enter the SQL text.
 */
import type { Client } from '@neondatabase/serverless';
import type { Migration } from './runner.js';

/** How long a target's migration may wait for a lock its tenant holds. */
export const MIGRATION_LOCK_TIMEOUT_MS = 5_000;

const FUNCTIONS = `
CREATE OR REPLACE FUNCTION pg_temp.tenant_migrations_applied(schemas text[])
RETURNS TABLE (schema_name text, name text, checksum text) LANGUAGE plpgsql AS $fn$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY schemas LOOP
    IF to_regclass(format('%I.schema_migrations', s)) IS NOT NULL THEN
      RETURN QUERY EXECUTE format('SELECT %L::text, name, checksum FROM %I.schema_migrations', s, s);
    END IF;
  END LOOP;
END $fn$;

CREATE OR REPLACE FUNCTION pg_temp.tenant_migrations_apply(s text, names text[], sqls text[], checksums text[], lock_ms int)
RETURNS text[] LANGUAGE plpgsql AS $fn$
DECLARE i int; prev text; done text[] := '{}';
BEGIN
  PERFORM set_config('search_path', s, true), set_config('lock_timeout', lock_ms::text, true);
  PERFORM pg_advisory_xact_lock(hashtext(s));
  EXECUTE 'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())';
  FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
    EXECUTE 'SELECT checksum FROM schema_migrations WHERE name = $1' INTO prev USING names[i];
    IF prev IS NOT NULL THEN
      IF prev <> checksums[i] THEN RAISE EXCEPTION 'migration % changed after it was applied', names[i]; END IF;
      CONTINUE;
    END IF;
    EXECUTE sqls[i];
    EXECUTE 'INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)' USING names[i], checksums[i];
    done := done || names[i];
  END LOOP;
  RETURN done;
END $fn$;

CREATE OR REPLACE FUNCTION pg_temp.tenant_migrations_revert(s text, names text[], downs text[], lock_ms int)
RETURNS TABLE (reverted text[], head text) LANGUAGE plpgsql AS $fn$
DECLARE i int; done text[] := '{}'; n int;
BEGIN
  PERFORM set_config('search_path', s, true), set_config('lock_timeout', lock_ms::text, true);
  PERFORM pg_advisory_xact_lock(hashtext(s));
  IF to_regclass(format('%I.schema_migrations', s)) IS NULL THEN RAISE EXCEPTION 'no schema_migrations in the target'; END IF;
  FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
    EXECUTE 'DELETE FROM schema_migrations WHERE name = $1' USING names[i];
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN CONTINUE; END IF;
    EXECUTE downs[i];
    done := done || names[i];
  END LOOP;
  RETURN QUERY EXECUTE 'SELECT $1, max(name) FROM schema_migrations' USING done;
END $fn$;
`;

/** A migration with its checksum (the catalogue's), and its `down` when it ships one. */
export interface CataloguedMigration extends Migration { checksum: string; down?: string | null }

/** One target's outcome. */
export type ApplyOutcome = { ok: true; applied: string[] } | { ok: false; error: string };
export type RevertOutcome = { ok: true; reverted: string[]; head: string | null } | { ok: false; error: string };

/** Installs the batch functions in this session (once per connection). */
export async function installBatchFunctions(c: Client): Promise<void> {
  await c.query(FUNCTIONS);
}

/** What each of `schemas` has applied: schema → (name → checksum). Schemas without a record table are absent. */
export async function appliedBySchema(c: Client, schemas: string[]): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  if (schemas.length === 0) return out;
  const { rows } = await c.query<{ schema_name: string; name: string; checksum: string }>(
    'SELECT schema_name, name, checksum FROM pg_temp.tenant_migrations_applied($1::text[])', [schemas]);
  for (const r of rows) {
    let m = out.get(r.schema_name);
    if (!m) out.set(r.schema_name, m = new Map());
    m.set(r.name, r.checksum);
  }
  return out;
}

/**
 * The catalogue's migrations `applied` does not have yet, in name order (pure). An applied
 * migration whose checksum differs is an error, as in `applyMigrations`.
 */
export function pendingFor(catalogue: CataloguedMigration[], applied: Map<string, string> | undefined): CataloguedMigration[] | { error: string } {
  const pending: CataloguedMigration[] = [];
  for (const m of [...catalogue].sort((a, b) => a.name.localeCompare(b.name))) {
    const have = applied?.get(m.name);
    if (have === undefined) pending.push(m);
    else if (have !== m.checksum) return { error: `migration ${m.name} changed after it was applied` };
  }
  return pending;
}

/** Applies `pending` to `schema` in one transaction (nothing when empty: no round trip). */
export async function applyToSchema(c: Client, schema: string, pending: CataloguedMigration[], lockTimeoutMs = MIGRATION_LOCK_TIMEOUT_MS): Promise<ApplyOutcome> {
  if (pending.length === 0) return { ok: true, applied: [] };
  try {
    const { rows } = await c.query<{ done: string[] }>(
      'SELECT pg_temp.tenant_migrations_apply($1, $2::text[], $3::text[], $4::text[], $5) AS done',
      [schema, pending.map((m) => m.name), pending.map((m) => m.sql), pending.map((m) => m.checksum), lockTimeoutMs]);
    return { ok: true, applied: rows[0]?.done ?? [] };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

/**
 * Runs the `down` of each of `migrations` that `schema` has applied, newest first, and removes its
 * record, in one transaction; returns what was reverted and the newest migration left.
 */
export async function revertSchema(c: Client, schema: string, migrations: CataloguedMigration[], lockTimeoutMs = MIGRATION_LOCK_TIMEOUT_MS): Promise<RevertOutcome> {
  const newestFirst = [...migrations].sort((a, b) => b.name.localeCompare(a.name));
  const missing = newestFirst.find((m) => !m.down);
  if (missing) return { ok: false, error: `${missing.name} has no down migration` };
  try {
    const { rows } = await c.query<{ reverted: string[]; head: string | null }>(
      'SELECT reverted, head FROM pg_temp.tenant_migrations_revert($1, $2::text[], $3::text[], $4)',
      [schema, newestFirst.map((m) => m.name), newestFirst.map((m) => m.down!), lockTimeoutMs]);
    return { ok: true, reverted: rows[0]?.reverted ?? [], head: rows[0]?.head ?? null };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

/** The server's message for a failed statement (the operator's migration's own error), bounded. */
function errorText(err: unknown): string {
  return String((err as Error)?.message ?? err).slice(0, 500);
}
