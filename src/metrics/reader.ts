/** Reads the aggregator shards for the control plane, every call bounded (a shard that does not answer is left out and counted). */
import { within } from '../flight/within.js';
import type { MetricsAggregator, TenantTotals } from './aggregator.js';
import type { Counters } from './series.js';
import { addCounters } from './series.js';
import { METRICS_SHARDS, shardName, shardOf } from './shard.js';

/** Longest the control plane waits for one shard. */
export const SHARD_READ_TIMEOUT_MS = 3_000;

const stubOf = (ns: DurableObjectNamespace<MetricsAggregator>, n: number) => ns.get(ns.idFromName(shardName(n)));

/** Every shard's totals; `unavailable`: the shards that failed or timed out. */
export async function readTotals(ns: DurableObjectNamespace<MetricsAggregator>, timeoutMs = SHARD_READ_TIMEOUT_MS): Promise<{ totals: TenantTotals[]; unavailable: number }> {
  const parts = await Promise.all(Array.from({ length: METRICS_SHARDS }, async (_, n) => {
    const r = await within(stubOf(ns, n).totals().then((v) => v as TenantTotals[], () => null), timeoutMs);
    return r.settled ? r.value : null;
  }));
  return { totals: parts.flatMap((p) => p ?? []), unavailable: parts.filter((p) => p === null).length };
}

/** One tenant's counters over the last `minutes` (all regions added up, and per region); null when its shard did not answer. */
export async function readWindow(ns: DurableObjectNamespace<MetricsAggregator>, tenantId: string, minutes: number, timeoutMs = SHARD_READ_TIMEOUT_MS): Promise<{ all: Counters; regions: { region: string; counters: Counters }[] } | null> {
  const r = await within(stubOf(ns, shardOf(tenantId)).window(tenantId, minutes).then((v) => v as { region: string; counters: Counters }[], () => null), timeoutMs);
  if (!r.settled || r.value === null) return null;
  const all: Counters = {};
  for (const reg of r.value) addCounters(all, reg.counters);
  return { all, regions: r.value };
}
