/** Reads the aggregator shards for the control plane, every call bounded (a shard that does not answer is left out and counted). */
import { within } from '../flight/within.js';
import type { MetricsAggregator, TenantTotals } from './aggregator.js';
import type { Counters } from './series.js';
import { addCounters } from './series.js';
import { METRICS_SHARDS, shardName, shardOf } from './shard.js';

/** Longest the control plane waits for one shard. */
export const SHARD_READ_TIMEOUT_MS = 3_000;

const stubOf = (ns: DurableObjectNamespace<MetricsAggregator>, n: number) => ns.get(ns.idFromName(shardName(n)));

/** `call` on shard `n`, null when it throws, rejects or takes longer than `ms` (a binding to a Worker not deployed throws at once). */
async function ask<T>(ns: DurableObjectNamespace<MetricsAggregator>, n: number, call: (s: ReturnType<typeof stubOf>) => Promise<unknown>, ms: number): Promise<T | null> {
  let work: Promise<T | null>;
  try { work = call(stubOf(ns, n)).then((v) => v as T, () => null); } catch { return null; }
  const r = await within(work, ms);
  return r.settled ? r.value : null;
}

/** Each shard's totals, by shard number; null for a shard that failed or timed out. */
export function readTotalsByShard(ns: DurableObjectNamespace<MetricsAggregator>, timeoutMs = SHARD_READ_TIMEOUT_MS): Promise<(TenantTotals[] | null)[]> {
  return Promise.all(Array.from({ length: METRICS_SHARDS }, (_, n) => ask<TenantTotals[]>(ns, n, (s) => s.totals(), timeoutMs)));
}

/** Every shard's totals; `unavailable`: the shards that failed or timed out. */
export async function readTotals(ns: DurableObjectNamespace<MetricsAggregator>, timeoutMs = SHARD_READ_TIMEOUT_MS): Promise<{ totals: TenantTotals[]; unavailable: number }> {
  const parts = await readTotalsByShard(ns, timeoutMs);
  return { totals: parts.flatMap((p) => p ?? []), unavailable: parts.filter((p) => p === null).length };
}

/** One tenant's counters over the last `minutes` (all regions added up, and per region); null when its shard did not answer. */
export async function readWindow(ns: DurableObjectNamespace<MetricsAggregator>, tenantId: string, minutes: number, timeoutMs = SHARD_READ_TIMEOUT_MS): Promise<{ all: Counters; regions: { region: string; counters: Counters }[] } | null> {
  const regions = await ask<{ region: string; counters: Counters }[]>(ns, shardOf(tenantId), (s) => s.window(tenantId, minutes), timeoutMs);
  if (regions === null) return null;
  const all: Counters = {};
  for (const reg of regions) addCounters(all, reg.counters);
  return { all, regions };
}
