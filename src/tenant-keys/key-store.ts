/**
 * Where the router gets a data key for a tenant whose record carries none (made before
 * migration 0013): `tenant_key_ensure()` on the control database, the router role's only write
 * there besides usage. It stores the key the router wrapped unless one exists, and answers the
 * stored one, so racing routers all end up with the first writer's key; it answers null for a
 * tenant that is gone or being deleted, so an erased tenant's key is never re-created.
 */
import { neon } from '@neondatabase/serverless';
import { toAppError } from '../data/db-errors.js';

export interface TenantKeyStore {
  /** Stores `wrapped` as `tenantId`'s key unless it has one; the stored key, or null when there is no such tenant. */
  ensure(tenantId: string, wrapped: string): Promise<string | null>;
}

/** The control database at `url`, each call aborted after `timeoutMs`. */
export function controlKeyStore(url: string, timeoutMs = 3_000): TenantKeyStore {
  const sql = neon(url);
  return {
    async ensure(tenantId, wrapped) {
      try {
        const rows = await sql.query('SELECT tenant_key_ensure($1::uuid, $2) AS wrapped', [tenantId, wrapped],
          { fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } }) as { wrapped: string | null }[];
        return rows[0]?.wrapped ?? null;
      } catch (err) {
        throw toAppError(err);
      }
    },
  };
}
