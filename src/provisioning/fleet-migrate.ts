/**
 * The fleet migration path over owner connections (docs/migrations.md): the `row` and `schema`
 * tenants of one shared database over one connection, a dedicated database over its own. A
 * tenant's failure is its outcome; a connection that fails fails the tenants it had not reached.
 */
import type { Client } from '@neondatabase/serverless';
import {
  appliedBySchema, applyToSchema, installBatchFunctions, pendingFor, revertSchema,
  type ApplyOutcome, type CataloguedMigration, type RevertOutcome,
} from '../migrations/batch-runner.js';
import { withClient } from './pg-client.js';
import type { PlacedTenant } from './provisioner.js';

/** The schema a `row` or `schema` tenant's tables live in (validated: it is bound, never spliced, but must be a tenant's). */
export function sharedSchemaOf(t: PlacedTenant): string {
  if (t.placement.strategy === 'row') return 'shared';
  const s = t.placement.schemaName;
  if (t.placement.strategy !== 'schema' || !s || !/^t_[0-9a-f]{32}$/.test(s)) throw new Error('invalid placement identifier');
  return s;
}

/** Applies the catalogue to the `row` and `schema` tenants of the shared database at `adminUrl`, over one connection. */
export async function migrateSharedDatabase(adminUrl: string, tenants: PlacedTenant[], catalogue: CataloguedMigration[]): Promise<Map<string, ApplyOutcome>> {
  return overOneConnection(adminUrl, tenants, async (c, schemas) => {
    const applied = await appliedBySchema(c, schemas);
    return async (schema) => {
      const pending = pendingFor(catalogue, applied.get(schema));
      return 'error' in pending ? { ok: false, error: pending.error } : applyToSchema(c, schema, pending);
    };
  });
}

/** Reverts `migrations` on the `row` and `schema` tenants of the shared database at `adminUrl`, over one connection. */
export async function revertSharedDatabase(adminUrl: string, tenants: PlacedTenant[], migrations: CataloguedMigration[]): Promise<Map<string, RevertOutcome>> {
  return overOneConnection(adminUrl, tenants, async (c) => (schema) => revertSchema(c, schema, migrations));
}

/** One dedicated database (`schema` public): the catalogue through the classic runner, so extra setup stays where it is. */
export async function migrateDatabase(run: () => Promise<string[]>): Promise<ApplyOutcome> {
  try {
    return { ok: true, applied: await run() };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

/** Reverts `migrations` in the dedicated database at `ownerUrl`. */
export async function revertDatabase(ownerUrl: string, migrations: CataloguedMigration[]): Promise<RevertOutcome> {
  try {
    return await withClient(ownerUrl, async (c) => {
      await installBatchFunctions(c);
      return revertSchema(c, 'public', migrations);
    });
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

/** Dedicated databases, one after the other (each its own connection). */
export async function eachDatabase<O>(tenants: PlacedTenant[], one: (t: PlacedTenant) => Promise<O>): Promise<Map<string, O>> {
  const out = new Map<string, O>();
  for (const t of tenants) out.set(t.tenantId, await one(t));
  return out;
}

async function overOneConnection<O extends { ok: boolean }>(
  url: string, tenants: PlacedTenant[],
  prepare: (c: Client, schemas: string[]) => Promise<(schema: string) => Promise<O>>,
): Promise<Map<string, O>> {
  const out = new Map<string, O>();
  if (tenants.length === 0) return out;
  try {
    await withClient(url, async (c) => {
      await installBatchFunctions(c);
      const schemas = [...new Set(tenants.map(sharedSchemaOf))];
      const one = await prepare(c, schemas);
      // Row tenants share one schema: it is migrated once, and each of them has its outcome.
      const bySchema = new Map<string, O>();
      for (const t of tenants) {
        const schema = sharedSchemaOf(t);
        let o = bySchema.get(schema);
        if (!o) bySchema.set(schema, o = await one(schema));
        out.set(t.tenantId, o);
      }
    });
  } catch (err) {
    const error = errorText(err);
    for (const t of tenants) if (!out.has(t.tenantId)) out.set(t.tenantId, { ok: false, error } as unknown as O);
  }
  return out;
}

function errorText(err: unknown): string {
  return String((err as Error)?.message ?? err).slice(0, 500);
}

