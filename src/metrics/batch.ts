/** An isolate's counters between two flushes (pure): rows per tenant, region and minute. */
import { addPoint, type Counters, type MetricPoint } from './series.js';
import { shardOf } from './shard.js';

/** One tenant's counters in one region during one minute (`minute`: Unix minutes, UTC). */
export interface BatchRow { tenantId: string; slug: string; region: string; minute: number; counters: Counters }

/** Rows keyed by tenant, region and minute. */
export class MetricsBatch {
  readonly rows = new Map<string, BatchRow>();

  /** Adds one request, in the minute `nowMs` falls in. */
  add(p: MetricPoint, nowMs: number): void {
    const minute = Math.floor(nowMs / 60_000);
    const key = `${p.tenantId}\n${p.region}\n${minute}`;
    let row = this.rows.get(key);
    if (!row) { row = { tenantId: p.tenantId, slug: p.slug, region: p.region, minute, counters: {} }; this.rows.set(key, row); }
    addPoint(row.counters, p);
  }

  get size(): number { return this.rows.size; }

  /** The rows, grouped by the aggregator shard of their tenant. */
  byShard(shards: number): Map<number, BatchRow[]> {
    const out = new Map<number, BatchRow[]>();
    for (const row of this.rows.values()) {
      const n = shardOf(row.tenantId, shards);
      const list = out.get(n) ?? [];
      list.push(row);
      out.set(n, list);
    }
    return out;
  }
}

