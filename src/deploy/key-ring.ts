/**
 * The key-ring format of MASTER_KEY and PLATFORM_JWT_SECRET: comma-separated `<kid>:<secret>`
 * entries, the first one in use (it seals or signs), the others only still accepted (they open
 * or verify what was made under them), so a key rotates without downtime: a new entry goes in
 * front, the old one stays until nothing needs it. Kids are `k<yyyymmdd>` of the day the key was
 * made (`-2`, `-3`… when a ring already holds that day's id). The whole format lives here; the
 * workers read it with src/crypto/key-ring.ts (ids of a-z, 0-9, _ and -, up to 32 characters).
 */

/** Separates the entries of a ring (neither base64 nor base64url uses it). */
const ENTRY_SEPARATOR = ',';

/** One entry: `<kid>:<secret>`. */
export const ringEntry = (kid: string, secret: string): string => `${kid}:${secret}`;

/** The kids of `ring`, in order (empty for an absent ring). */
export function ringKids(ring: string | undefined): string[] {
  if (!ring) return [];
  return ring.split(ENTRY_SEPARATOR).map((e) => e.slice(0, e.indexOf(':')));
}

/** A kid for a key made on `date` that `ring` does not hold yet. */
export function newKid(date: Date, ring?: string): string {
  const base = `k${date.toISOString().slice(0, 10).replace(/-/g, '')}`;
  const taken = new Set(ringKids(ring));
  let kid = base;
  for (let n = 2; taken.has(kid); n += 1) kid = `${base}-${n}`;
  return kid;
}

/** `ring` with `entry` put in front: it becomes the key in use, the older ones stay accepted. */
export const rotateRing = (ring: string, entry: string): string => [entry, ...ring.split(ENTRY_SEPARATOR)].join(ENTRY_SEPARATOR);
