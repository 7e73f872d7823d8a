/** Which aggregator shard holds a tenant's counters (pure): the same answer in every isolate and in the control worker. */

/** Aggregator objects (`metrics:0` … `metrics:7`). Changing it moves tenants between shards: their totals restart on the new one. */
export const METRICS_SHARDS = 8;

/** FNV-1a of the tenant id, modulo the shard count. */
export function shardOf(tenantId: string, shards = METRICS_SHARDS): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) { h ^= tenantId.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h % shards;
}

/** The object name of shard `n`. */
export const shardName = (n: number) => `metrics:${n}`;
