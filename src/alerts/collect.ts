/**
 * From the aggregator's totals to intervals (pure). Each run reads every shard's totals (counters
 * since the shard began, per tenant and region) and subtracts what it saw last time: the delta is
 * what happened since that shard was last read, an interval whose length the progress row knows.
 * A tenant seen for the first time, or whose counters went down (the shard lost its state), only
 * gets a new snapshot. A shard read less than MIN_INTERVAL_MS after its last read is left for a
 * later run, so a run moments after another never judges a few seconds of traffic.
 */
import type { TenantTotals } from '../metrics/aggregator.js';
import type { Counters } from '../metrics/series.js';
import { deltaOf } from './signals.js';

export const MIN_INTERVAL_MS = 30_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Interval { tenantId: string; region: string; minutes: number; delta: Counters }

export interface Collected {
  intervals: Interval[];
  /** Snapshots to write: changed, new or reset counters. */
  snapshots: { tenant_id: string; region: string; counters: Counters }[];
  /** The progress's shard read times after this run. */
  shardReadAt: Record<string, number>;
  /** Shards that did not answer, and shards read too recently to judge. */
  unavailable: number;
  tooSoon: number;
}

/** The intervals of one run at `now` from each shard's totals (null: the shard did not answer). */
export function collect(parts: (TenantTotals[] | null)[], snapshots: Map<string, Counters>, shardReadAt: Record<string, number>, now: number): Collected {
  const out: Collected = { intervals: [], snapshots: [], shardReadAt: { ...shardReadAt }, unavailable: 0, tooSoon: 0 };
  parts.forEach((totals, shard) => {
    if (totals === null) { out.unavailable++; return; }
    const last = shardReadAt[String(shard)];
    const elapsed = last === undefined ? null : now - last;
    if (elapsed !== null && elapsed < MIN_INTERVAL_MS) { out.tooSoon++; return; }
    out.shardReadAt[String(shard)] = now;
    for (const t of totals) {
      // Refusals before a tenant was known are counted under `none`: no tenant to alert on.
      if (!UUID.test(t.tenantId)) continue;
      const prev = snapshots.get(`${t.tenantId}\n${t.region}`);
      const delta = prev ? deltaOf(t.counters, prev) : null;
      if (delta && Object.keys(delta).length === 0) continue;
      out.snapshots.push({ tenant_id: t.tenantId, region: t.region, counters: t.counters });
      if (delta && elapsed !== null) out.intervals.push({ tenantId: t.tenantId, region: t.region, minutes: elapsed / 60_000, delta });
    }
  });
  return out;
}
