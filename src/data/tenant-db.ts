/**
 * Per-request database access for a tenant, on its region-pinned Postgres, with its isolation
 * applied. The setup (`router.enter` + isolation, see setup.ts) and the query travel together in
 * one `transaction()` batch: one HTTP round trip, and `set_config(..., true)` is
 * transaction-local, so nothing leaks into a pooled connection. Every call is bounded in time on
 * both sides: the fetch is aborted after `queryTimeoutMs`, and the server refuses to start a
 * transaction after the same deadline and stops the statement at it.
 */
import { neon } from '@neondatabase/serverless';
import { open, UnknownKeyError, type MasterKeys } from '../crypto/secret-box.js';
import { AppError } from '../errors.js';
import type { Tenant } from '../tenancy/tenant.js';
import { toAppError } from './db-errors.js';
import { tenantSetup } from './setup.js';

export interface TenantDb {
  /** Runs one statement for the tenant; rows as objects. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

const IDENT = /^t_[0-9a-f]{32}$/;
const SCHEMA = /^(shared|public|t_[0-9a-f]{32})$/;
/** Default bound on one tenant call (the router's TENANT_QUERY_TIMEOUT_MS). */
export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;
const CACHE_LIMIT = 5_000;

interface Target { url: string; schema: string; role: string | null }

export interface DataRouterOptions {
  regionUrls: Record<string, string>;
  /** The MASTER_KEY ring; a secret opens with the key its sealed form names. */
  masterKey: Promise<MasterKeys>;
  /** Upper bound of one tenant call, client and server side (default 5000 ms). */
  queryTimeoutMs?: number;
}

/** Opens tenant databases: shared regional databases for `row`/`schema`, the tenant's own for `database`. */
export class TenantDataRouter {
  // Decrypted connection strings, keyed by tenant id and sealed form together: the tenant id is
  // the secret's binding, so a secret copied onto another tenant must fail to open, not hit here.
  private readonly opened = new Map<string, string>();
  // Connection URLs whose role passed router.enter's safety check in this isolate.
  private readonly checked = new Set<string>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: DataRouterOptions) {
    this.timeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1) throw new Error('queryTimeoutMs must be a positive integer');
  }

  /** A database handle for `tenant`; no I/O until the first query. `traceId` names the request in the session (application_name). */
  for(tenant: Tenant, ctx: { traceId?: string } = {}): TenantDb {
    let target: Promise<Target> | undefined;
    return {
      query: async <T>(text: string, params: unknown[] = []) => {
        target ??= this.target(tenant);
        const t = await target;
        const check = !this.checked.has(t.url);
        const setup = tenantSetup({
          tenantId: tenant.id, schema: t.schema, role: t.role, check,
          deadline: new Date(Date.now() + this.timeoutMs), timeoutMs: this.timeoutMs, traceId: ctx.traceId,
        });
        const sql = neon(t.url);
        try {
          const [, result] = await sql.transaction([sql.query(setup.text, setup.params), sql.query(text, params)],
            { fetchOptions: { signal: AbortSignal.timeout(this.timeoutMs) } });
          if (check) remember(this.checked, t.url);
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
      return { url: await this.reveal(p.connectionSecret, tenant.id), schema: p.schemaName, role: null };
    }
    const url = Object.hasOwn(this.opts.regionUrls, p.region) ? this.opts.regionUrls[p.region] : undefined;
    if (!url) throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'tenant region is not served by this router', { 'Retry-After': '60' });
    if (p.strategy === 'row') return { url, schema: p.schemaName, role: null };
    if (!p.roleName || !IDENT.test(p.roleName) || p.schemaName !== p.roleName) throw notReady();
    return { url, schema: p.schemaName, role: p.roleName };
  }

  private async reveal(sealed: string, tenantId: string): Promise<string> {
    const key = `${tenantId}\n${sealed}`;
    const hit = this.opened.get(key);
    if (hit) return hit;
    let url: string;
    try {
      url = await open(await this.opts.masterKey, sealed, tenantId);
    } catch (err) {
      // A key this router does not hold yet (a control plane deployed with a rotated ring before
      // it) or retired too early: a deploy-order problem the operator fixes, so say which key, and
      // answer as an unavailable upstream that a retry may find mended.
      if (err instanceof UnknownKeyError) {
        console.error(JSON.stringify({ level: 'error', msg: 'connection secret sealed under a key not in MASTER_KEY', tenant: tenantId, kid: err.kid }));
        throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'tenant database is not reachable from this router', { 'Retry-After': '30' });
      }
      // A secret that does not open for its tenant was moved, tampered with or sealed under another key.
      console.error(JSON.stringify({ level: 'error', msg: 'connection secret does not open for its tenant', tenant: tenantId }));
      throw new AppError(500, 'INTERNAL', 'internal error');
    }
    remember(this.opened, key, url);
    return url;
  }
}

/** Adds to a bounded cache, evicting the oldest entry when full. */
function remember(cache: Set<string>, key: string): void;
function remember(cache: Map<string, string>, key: string, value: string): void;
function remember(cache: Set<string> | Map<string, string>, key: string, value?: string): void {
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  if (cache instanceof Map) cache.set(key, value!); else cache.add(key);
}
