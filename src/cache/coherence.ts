/**
 * The L2 coherence protocol between routers and the control plane, as two Redis scripts.
 *
 * Each lookup key has a value key and an invalidation epoch key (tenant.ts: cacheKey, epochKey).
 * A router that misses reads both in one MGET, reads L3, then writes the value back only if the
 * epoch is still what it read (WRITE_IF_UNCHANGED). The control plane, after committing a change,
 * replaces the epoch and deletes the value (INVALIDATE). A router whose L3 read may predate the
 * change read the epoch before the change committed, so its write-back, coming after the
 * invalidation, finds another epoch and writes nothing; coming before it, it is deleted by it.
 * Either way L2 never keeps a record older than the last invalidation.
 *
 * The epoch is a fresh random token, not a counter: an INCR on an epoch key that expired in the
 * meantime would start again at 1 and could equal what a slow router read (ABA). The epoch
 * expires after EPOCH_TTL_SECONDS, far beyond any router miss (bounded by its timeouts, a few
 * seconds); an expired epoch reads as '' and can only make a write-back fail, never pass.
 */

/** How long an epoch outlives its last invalidation. */
export const EPOCH_TTL_SECONDS = 3600;

/** KEYS: value, epoch; ARGV: epoch read, value, TTL seconds. Returns 1 when written, 0 when not. */
export const WRITE_IF_UNCHANGED = `
if (redis.call('GET', KEYS[2]) or '') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`;

/**
 * KEYS: value and epoch key pairs, then keys to delete only (ARGV[3] of them, e.g. a previous
 * key format still read by routers being replaced); ARGV: new epoch, epoch TTL, count of those.
 */
export const INVALIDATE = `
local plain = tonumber(ARGV[3])
local paired = #KEYS - plain
for i = 1, paired, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('SET', KEYS[i + 1], ARGV[1], 'EX', ARGV[2])
end
for i = paired + 1, #KEYS do redis.call('DEL', KEYS[i]) end
return paired / 2`;
