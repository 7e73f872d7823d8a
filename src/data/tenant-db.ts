/**
 * Per-request database access for a tenant, on its region-pinned Postgres, with its isolation
 * applied. Every call is one transaction whose first statement is the setup (`router.enter` +
 * isolation, see setup.ts), with `set_config(..., true)`: transaction-local, so nothing leaks into
 * a pooled connection, and whose isolation settings `router.verify` checks after the statements.
 * - `query`: setup and statement in one `transaction()` batch over HTTP, one round trip;
 * - `batch`: setup and several statements in one such batch, still one round trip, all or nothing;
 * - `transaction`: interactive, over a WebSocket `Client` made and closed within the call
 *   (interactive.ts), at most `maxTransactions` open per tenant in this isolate.
 * Statements pass the statement guard first (statement-guard.ts). Every call is bounded in time on
 * both sides: the client gives up after `queryTimeoutMs` (`transactionTimeoutMs` for a whole
 * transaction), and the server refuses to start a transaction after the same deadline and stops
 * any statement at it.
 */
import { open, UnknownKeyError, type MasterKeys } from '../crypto/secret-box.js';
import { AppError } from '../errors.js';
import type { Tenant } from '../tenancy/tenant.js';
import { StatementRefused } from './db-errors.js';
import { httpBatch } from './http-batch.js';
import { beginStatement, interactive, type TenantTx, type TransactionOptions } from './interactive.js';
import { tenantSetup, tenantVerify } from './setup.js';
import { batchRefusal, rememberedGuard } from './statement-guard.js';
import { TransactionSlots } from './tx-slots.js';

export type { IsolationLevel, TenantTx, TransactionOptions } from './interactive.js';

/** One statement of a batch. */
export interface Statement { text: string; params?: unknown[] }

/** The tenant's database, as the application sees it (`c.var.db`). */
export interface TenantDb {
  /** Runs one statement for the tenant; rows as objects. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs the statements in one non-interactive transaction (one round trip); each one's rows, in order. All or nothing. */
  batch<T = Record<string, unknown>>(statements: readonly Statement[], options?: TransactionOptions): Promise<T[][]>;
  /** Runs `fn` in one interactive transaction: committed when it resolves, rolled back when it throws. */
  transaction<R>(fn: (tx: TenantTx) => Promise<R>, options?: TransactionOptions): Promise<R>;
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
  /** Upper bound of one interactive transaction, connecting included (default: queryTimeoutMs). */
  transactionTimeoutMs?: number;
  /** Interactive transactions one tenant may hold open at once in this isolate (default 5). */
  maxTransactions?: number;
  /** The tenant's own bound on open transactions (default: its tier's connection_limit); the lower bound wins. */
  transactionLimit?: (tenant: Tenant) => number;
  /** The statement guard (statement-guard.ts); replaceable so tests can prove the server-side checks alone. */
  guard?: (text: string) => string | null;
}

/** Default of `maxTransactions`: Workers allow six open connections per request, and a tenant's transactions share an isolate. */
export const DEFAULT_MAX_TRANSACTIONS = 5;

/** Opens tenant databases: shared regional databases for `row`/`schema`, the tenant's own for `database`. */
export class TenantDataRouter {
  // Decrypted connection strings, keyed by tenant id and sealed form together: the tenant id is
  // the secret's binding, so a secret copied onto another tenant must fail to open, not hit here.
  private readonly opened = new Map<string, string>();
  // Connection URLs whose role passed router.enter's safety check in this isolate.
  private readonly checked = new Set<string>();
  private readonly timeoutMs: number;
  private readonly txTimeoutMs: number;
  private readonly maxTransactions: number;
  private readonly slots = new TransactionSlots();
  // The statement guard, its verdicts remembered per text for this isolate (the guard is pure).
  private readonly guard: (text: string) => string | null;

  constructor(private readonly opts: DataRouterOptions) {
    this.guard = rememberedGuard(opts.guard);
    this.timeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.txTimeoutMs = opts.transactionTimeoutMs ?? this.timeoutMs;
    this.maxTransactions = opts.maxTransactions ?? DEFAULT_MAX_TRANSACTIONS;
    for (const [name, v] of [['queryTimeoutMs', this.timeoutMs], ['transactionTimeoutMs', this.txTimeoutMs], ['maxTransactions', this.maxTransactions]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
    }
  }

  /** Interactive transactions `tenantId` holds open in this isolate now. */
  openTransactions(tenantId: string): number {
    return this.slots.count(tenantId);
  }

  /** A database handle for `tenant`; no I/O until the first call. `traceId` names the request in the session (application_name). */
  for(tenant: Tenant, ctx: { traceId?: string } = {}): TenantDb {
    let target: Promise<Target> | undefined;
    const open = async (timeoutMs: number, idle: boolean) => {
      target ??= this.target(tenant);
      const t = await target;
      const check = !this.checked.has(t.url);
      const setup = tenantSetup({
        tenantId: tenant.id, version: tenant.version, schema: t.schema, role: t.role, check, traceId: ctx.traceId,
        deadline: new Date(Date.now() + timeoutMs), timeoutMs, idleMs: idle ? timeoutMs : undefined,
      });
      const verify = tenantVerify({ tenantId: tenant.id, schema: t.schema, role: t.role });
      return { t, setup, verify, passed: () => { if (check) remember(this.checked, t.url); } };
    };
    const batch = async (statements: readonly Statement[], options: TransactionOptions = {}): Promise<unknown[][]> => {
      const why = batchRefusal(statements, this.guard);
      if (why) throw new StatementRefused(why);
      beginStatement(options);
      if (statements.length === 0) return [];
      const { t, setup, verify, passed } = await open(this.timeoutMs, false);
      const results = await httpBatch(t.url, setup, statements, options, this.timeoutMs, verify);
      passed();
      return results;
    };
    return {
      query: async <T>(text: string, params: unknown[] = []) => {
        const [rows] = await batch([{ text, params }]);
        return rows as T[];
      },
      batch: batch as TenantDb['batch'],
      transaction: async <R>(fn: (tx: TenantTx) => Promise<R>, options?: TransactionOptions) => {
        const own = (this.opts.transactionLimit ?? ((x: Tenant) => x.limits.connections))(tenant);
        const limit = Number.isNaN(own) ? this.maxTransactions : Math.min(this.maxTransactions, Math.max(0, own));
        const release = this.slots.take(tenant.id, limit);
        if (!release) throw new AppError(429, 'CONCURRENCY_LIMIT', 'too many open transactions for this tenant', { 'Retry-After': '1' });
        try {
          const { t, setup, verify, passed } = await open(this.txTimeoutMs, true);
          const out = await interactive({ url: t.url, setup, verify, totalMs: this.txTimeoutMs, options, guard: this.guard }, fn);
          passed();
          return out;
        } finally {
          release();
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
