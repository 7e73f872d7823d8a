/**
 * Per-request database access for a tenant, on its region-pinned Postgres, with its isolation
 * applied. The isolation setup and the query travel together in one `transaction()` batch: one
 * HTTP round trip, and `set_config(..., true)` is transaction-local, so nothing leaks into a
 * pooled connection. Role and schema names are validated identifiers passed as bound parameters.
 */
import { neon } from '@neondatabase/serverless';
import { open } from '../crypto/secret-box.js';
import { AppError } from '../errors.js';
import type { Tenant } from '../tenancy/tenant.js';
import { toAppError } from './db-errors.js';

export interface TenantDb {
  /** Runs one statement for the tenant; rows as objects. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

const IDENT = /^t_[0-9a-f]{32}$/;
const SCHEMA = /^(shared|public|t_[0-9a-f]{32})$/;
// search_path names exactly one schema, so an unqualified table can only be the tenant's own.
const SETUP = "SELECT set_config('search_path', $1, true), set_config('app.tenant_id', $2, true)";
const SETUP_AS_ROLE = "SELECT set_config('role', $1, true), set_config('search_path', $2, true), set_config('app.tenant_id', $3, true)";

interface Target { url: string; setup: string; params: string[] }

export interface DataRouterOptions { regionUrls: Record<string, string>; masterKey: Promise<CryptoKey> }

/** Opens tenant databases: shared regional databases for `row`/`schema`, the tenant's own for `database`. */
export class TenantDataRouter {
  // Decrypted connection strings, keyed by their sealed form: a rotated secret is a new key.
  private readonly opened = new Map<string, string>();

  constructor(private readonly opts: DataRouterOptions) {}

  /** A database handle for `tenant`; no I/O until the first query. */
  for(tenant: Tenant): TenantDb {
    let target: Promise<Target> | undefined;
    return {
      query: async <T>(text: string, params: unknown[] = []) => {
        target ??= this.target(tenant);
        const t = await target;
        const sql = neon(t.url);
        try {
          const [, result] = await sql.transaction([sql.query(t.setup, t.params), sql.query(text, params)]);
          return result as T[];
        } catch (err) {
          throw toAppError(err);
        }
      },
    };
  }

  private async target(tenant: Tenant): Promise<Target> {
    const p = tenant.placement;
    const notReady = () => new AppError(503, 'TENANT_MIGRATING', 'tenant storage is not ready', { 'Retry-After': '30' });
    if (!p || p.strategy !== tenant.isolation || !p.schemaName || !SCHEMA.test(p.schemaName)) throw notReady();
    if (p.strategy === 'database') {
      if (!p.connectionSecret) throw notReady();
      return { url: await this.reveal(p.connectionSecret, tenant.id), setup: SETUP, params: [p.schemaName, tenant.id] };
    }
    const url = Object.hasOwn(this.opts.regionUrls, p.region) ? this.opts.regionUrls[p.region] : undefined;
    if (!url) throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'tenant region is not served by this router', { 'Retry-After': '60' });
    if (p.strategy === 'row') return { url, setup: SETUP, params: [p.schemaName, tenant.id] };
    if (!p.roleName || !IDENT.test(p.roleName) || p.schemaName !== p.roleName) throw notReady();
    return { url, setup: SETUP_AS_ROLE, params: [p.roleName, p.schemaName, tenant.id] };
  }

  private async reveal(sealed: string, tenantId: string): Promise<string> {
    const hit = this.opened.get(sealed);
    if (hit) return hit;
    const url = await open(await this.opts.masterKey, sealed, tenantId);
    if (this.opened.size >= 5000) this.opened.delete(this.opened.keys().next().value!);
    this.opened.set(sealed, url);
    return url;
  }
}
