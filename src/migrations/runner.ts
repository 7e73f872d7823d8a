/**
 * Forward-only migrations. Each target (the control database, a region's shared schema, a
 * tenant's schema, a tenant's database) records what it applied in its own `schema_migrations`
 * with a checksum; an applied migration whose file changed is an error, never a silent re-run.
 * A migration and its record commit together, under an advisory lock so that two runners on the
 * same target do not race.
 */
import type { Client } from '@neondatabase/serverless';

export interface Migration { name: string; sql: string }

export interface MigrationTarget {
  /** The schema migrations run in; a validated identifier, passed as a bound parameter. */
  schema: string;
}

/** Applies the pending `migrations` (sorted by name) through `client`; returns the names applied. */
export async function applyMigrations(client: Client, migrations: Migration[], target: MigrationTarget): Promise<string[]> {
  const sorted = [...migrations].sort((a, b) => a.name.localeCompare(b.name));
  const applied: string[] = [];
  for (const m of sorted) {
    const checksum = await sha256(m.sql);
    await client.query('BEGIN');
    try {
      await client.query("SELECT set_config('search_path', $1, true), pg_advisory_xact_lock(hashtext($1))", [target.schema]);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE name = $1', [m.name]);
      if (rows[0]) {
        if (rows[0].checksum !== checksum) throw new Error(`migration ${m.name} changed after it was applied`);
        await client.query('COMMIT');
        continue;
      }
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [m.name, checksum]);
      await client.query('COMMIT');
      applied.push(m.name);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
  return applied;
}

/** Hex SHA-256 of `text`. */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
