/**
 * MetricsAggregator: one of METRICS_SHARDS Durable Objects (`metrics:<n>`) that add up the
 * isolates' batches for the tenants hashed to them (src/metrics/shard.ts). SQLite-backed:
 *
 * - `totals`: every tenant's counters since the object began (what Prometheus scrapes: counters
 *   never go down, not even across a restart);
 * - `minutes`: the same per UTC minute, kept WINDOW_MINUTES (the admin API's windowed view);
 * - `batches`: the ids of the batches applied in the last hour. An id is applied once, in the same
 *   transaction as its counts, so a batch sent again after a lost answer or a restart counts once;
 * - `seen`: when each tenant last had a request. A tenant quiet for STALE_MS (7 days: deleted, or
 *   idle) is retired at most once an hour: its totals are added into the `retired` row of their
 *   region and dropped, so the table does not grow with every tenant that ever existed. The
 *   retired row is exposed as part of `tenant="other"`, so no series that is still exposed ever
 *   goes down; only the retired tenant's own series (when it was in the top K) ends.
 *
 * The counters are operational (how many requests, how fast), not tenant data, so the shards live
 * where they are first used, whatever a tenant's residency.
 */
import { DurableObject } from 'cloudflare:workers';
import type { BatchRow } from './batch.js';
import { NO_TENANT, RETIRED_TENANT, type Counters } from './series.js';

/** How far back the windowed view reaches. */
export const WINDOW_MINUTES = 60;
const BATCH_ID_TTL_MS = 3_600_000;
/** A tenant without a request for this long is retired from `totals`. */
export const STALE_MS = 7 * 86_400_000;
/** Least time between two retirement runs of a shard. */
const PRUNE_EVERY_MS = 3_600_000;

export interface TenantTotals { tenantId: string; slug: string; region: string; counters: Counters }

export class MetricsAggregator extends DurableObject<object> {
  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec('CREATE TABLE IF NOT EXISTS totals (tenant_id TEXT NOT NULL, region TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (tenant_id, region, key))');
      sql.exec('CREATE TABLE IF NOT EXISTS minutes (minute INTEGER NOT NULL, tenant_id TEXT NOT NULL, region TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (minute, tenant_id, region, key))');
      sql.exec('CREATE TABLE IF NOT EXISTS slugs (tenant_id TEXT PRIMARY KEY, slug TEXT NOT NULL)');
      sql.exec('CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
      sql.exec('CREATE TABLE IF NOT EXISTS seen (tenant_id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
      // A shard made before `seen`: its tenants count as seen now, and are retired a week on if quiet.
      sql.exec('INSERT OR IGNORE INTO seen (tenant_id, at) SELECT DISTINCT tenant_id, ? FROM totals', Date.now());
    });
  }

  private lastPrune = 0;

  /**
   * Retires the tenants not seen since `now - STALE_MS` (never `none` nor the retired row itself):
   * their totals are added into the retired row of each region, then dropped. How many it retired.
   */
  async prune(now = Date.now()): Promise<number> {
    this.lastPrune = now;
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      const stale = [...sql.exec<{ tenant_id: string }>('SELECT tenant_id FROM seen WHERE at < ? AND tenant_id NOT IN (?, ?)', now - STALE_MS, NO_TENANT, RETIRED_TENANT)]
        .map((r) => r.tenant_id);
      for (const id of stale) {
        sql.exec(`INSERT INTO totals (tenant_id, region, key, value) SELECT ?, region, key, value FROM totals WHERE tenant_id = ?
                  ON CONFLICT DO UPDATE SET value = value + excluded.value`, RETIRED_TENANT, id);
        sql.exec('DELETE FROM totals WHERE tenant_id = ?', id);
        sql.exec('DELETE FROM slugs WHERE tenant_id = ?', id);
        sql.exec('DELETE FROM seen WHERE tenant_id = ?', id);
      }
      return stale.length;
    });
  }

  private async pruneIfDue(now: number): Promise<void> {
    if (now - this.lastPrune >= PRUNE_EVERY_MS) await this.prune(now);
  }

  /** Applies batch `id` (once: false when it was applied before). */
  async ingest(id: string, rows: BatchRow[]): Promise<boolean> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    await this.pruneIfDue(now);
    return this.ctx.storage.transactionSync(() => {
      if ([...sql.exec('SELECT 1 FROM batches WHERE id = ?', id)].length > 0) return false;
      sql.exec('INSERT INTO batches (id, at) VALUES (?, ?)', id, now);
      for (const r of rows) {
        sql.exec('INSERT INTO slugs (tenant_id, slug) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET slug = excluded.slug', r.tenantId, r.slug);
        sql.exec('INSERT INTO seen (tenant_id, at) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET at = max(at, excluded.at)', r.tenantId, now);
        for (const [key, v] of Object.entries(r.counters)) {
          sql.exec('INSERT INTO totals VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = value + excluded.value', r.tenantId, r.region, key, v);
          sql.exec('INSERT INTO minutes VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = value + excluded.value', r.minute, r.tenantId, r.region, key, v);
        }
      }
      sql.exec('DELETE FROM batches WHERE at < ?', now - BATCH_ID_TTL_MS);
      sql.exec('DELETE FROM minutes WHERE minute < ?', Math.floor(now / 60_000) - WINDOW_MINUTES);
      return true;
    });
  }

  /** Every tenant's counters since the object began, per region. */
  async totals(): Promise<TenantTotals[]> {
    await this.pruneIfDue(Date.now());
    const out = new Map<string, TenantTotals>();
    const rows = this.ctx.storage.sql.exec<{ tenant_id: string; region: string; key: string; value: number; slug: string | null }>(
      'SELECT t.tenant_id, t.region, t.key, t.value, s.slug FROM totals t LEFT JOIN slugs s USING (tenant_id)');
    for (const r of rows) {
      const k = `${r.tenant_id}\n${r.region}`;
      let acc = out.get(k);
      if (!acc) { acc = { tenantId: r.tenant_id, slug: r.slug ?? r.tenant_id, region: r.region, counters: {} }; out.set(k, acc); }
      acc.counters[r.key] = r.value;
    }
    return [...out.values()];
  }

  /** One tenant's counters per region over the last `minutes` UTC minutes (the current one included). */
  async window(tenantId: string, minutes: number): Promise<{ region: string; counters: Counters }[]> {
    const from = Math.floor(Date.now() / 60_000) - (Math.min(Math.max(1, minutes), WINDOW_MINUTES) - 1);
    const out = new Map<string, Counters>();
    const rows = this.ctx.storage.sql.exec<{ region: string; key: string; value: number }>(
      'SELECT region, key, sum(value) AS value FROM minutes WHERE tenant_id = ? AND minute >= ? GROUP BY region, key', tenantId, from);
    for (const r of rows) {
      const c = out.get(r.region) ?? {};
      c[r.key] = r.value;
      out.set(r.region, c);
    }
    return [...out].map(([region, counters]) => ({ region, counters }));
  }
}
