/**
 * The package's own migrations, found relative to this module (so a command works from any
 * directory). Node only: the bootstrap's callers (tenantctl, the local stack) read them here and
 * pass them in, which keeps the bootstrap itself free of the file system.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Migration } from '../migrations/runner.js';
import type { BootstrapMigrations } from './index.js';

/** The package's `migrations/` folder. */
export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** The migrations in `<dir>/<set>/*.sql`, by file name (a tenant migration's `.down.sql` is not one: rollbacks run it). */
export function loadMigrations(set: 'control' | 'tenant', dir = MIGRATIONS_DIR): Migration[] {
  const folder = join(dir, set);
  return readdirSync(folder).filter((f) => f.endsWith('.sql') && !f.endsWith('.down.sql')).sort().map((name) => ({ name, sql: readFileSync(join(folder, name), 'utf8') }));
}

/** Both sets. */
export function packageMigrations(dir = MIGRATIONS_DIR): BootstrapMigrations {
  return { control: loadMigrations('control', dir), tenant: loadMigrations('tenant', dir) };
}
