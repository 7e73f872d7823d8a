/**
 * Key rings: a secret variable holding several keys, each with an id, so a key can be replaced
 * without downtime. Format: `kid:secret` entries separated by commas, the first one current
 * (it seals and signs), the others still open and verify (`k2:NEW,k1:OLD`). A bare value without
 * `kid:` is one key with id `k0`: what every deployment had before rings existed.
 *
 * The two forms are told apart by one rule, and nothing is guessed: a value WITH a `:` is a
 * ring, and then every entry must be well formed, `kid:secret` with a kid of [a-z0-9_-]{1,32}
 * and a secret holding no `:`, `,` or whitespace (generated secrets are base64 or base64url);
 * whitespace around entries is ignored. A value that is neither (a bare secret that happens to
 * contain a `:`, a pasted ring with a typo) is refused at start-up, saying so, rather than split
 * into a key id and a different secret. A bare secret with a `:` in it must be replaced.
 *
 * Pure: parsing and selection only. Error messages name the entry's position, never a secret,
 * and never a key id either (a secret pasted where the id belongs would otherwise be echoed).
 */
import { z } from 'zod';

/** The id of a key given without one (a bare value), and of secrets sealed or signed before rings. */
export const LEGACY_KID = 'k0';

const KID = /^[a-z0-9_-]{1,32}$/;
/** A ring entry's secret: no separator of the format, no whitespace. */
const SECRET = /^[^\s:,]+$/;
/** Said with a malformed entry: the value was read as a ring because of its `:`. */
const NOT_BARE = " (a value containing ':' is read as a key ring kid:secret,…; a bare secret must not contain ':', see docs/key-rotation.md)";

/** Keys by id, in the order given; `current` is the first. */
export interface KeyRing<K = string> {
  readonly current: string;
  readonly keys: ReadonlyMap<string, K>;
}

/** What a secret must satisfy: null when it does, otherwise the reason (never the secret itself). */
export type SecretCheck = (secret: string) => string | null;

export type RingParse = { ok: true; ring: KeyRing } | { ok: false; error: string };

/** Parses a ring variable's value; `check` validates each secret. */
export function parseKeyRing(value: string, check: SecretCheck = () => null): RingParse {
  const fail = (error: string): RingParse => ({ ok: false, error });
  if (value.trim() === '') return fail('is empty');
  if (!value.includes(':')) {
    // A comma without ids is most likely a ring whose ids were forgotten, not one secret.
    if (value.includes(',')) return fail('has several entries without key ids: write them as kid:secret,kid:secret');
    // Taken exactly as it is (no trimming): this is the key deployments used before rings.
    const bad = check(value);
    return bad ? fail(bad) : { ok: true, ring: { current: LEGACY_KID, keys: new Map([[LEGACY_KID, value]]) } };
  }
  const keys = new Map<string, string>();
  const entries = value.split(',');
  for (const [i, raw] of entries.entries()) {
    const where = entries.length > 1 ? `entry ${i + 1}: ` : '';
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    if (colon < 0) return fail(`${where}must be kid:secret`);
    const kid = entry.slice(0, colon);
    // Not trimmed: `passphrase: secret` is a bare secret with a colon, not the ring entry `passphrase:secret`.
    const secret = entry.slice(colon + 1);
    if (!KID.test(kid)) return fail(`${where}key id must be 1-32 characters of a-z, 0-9, _ and -${NOT_BARE}`);
    if (keys.has(kid)) return fail(`${where}key id is used twice`);
    if (secret === '') return fail(`${where}has no secret`);
    const bad = check(secret);
    if (bad) return fail(`${where}${bad}`);
    if (!SECRET.test(secret)) return fail(`${where}secret must not contain ':', ',' or whitespace${NOT_BARE}`);
    keys.set(kid, secret);
  }
  return { ok: true, ring: { current: [...keys.keys()][0]!, keys } };
}

/** A zod schema for a ring variable: the issue's message is the parse error, the path names the variable. */
export const keyRingVar = (check?: SecretCheck) => z.string().transform((s, ctx) => {
  const r = parseKeyRing(s, check);
  if (r.ok) return r.ring;
  ctx.addIssue({ code: 'custom', message: r.error });
  return z.NEVER;
});

/** The current key (the one that seals or signs) and its id. */
export function currentKey<K>(ring: KeyRing<K>): { kid: string; key: K } {
  return { kid: ring.current, key: ring.keys.get(ring.current)! };
}

/**
 * The key with id `kid`; a value that names no key (absent) is the legacy key `k0`, so secrets and
 * tokens made before rings keep working while `k0` is in the ring, and only then.
 */
export function keyFor<K>(ring: KeyRing<K>, kid: string | undefined): K | undefined {
  return ring.keys.get(kid ?? LEGACY_KID);
}

/** The ring's ids, current first. */
export const kidsOf = (ring: KeyRing<unknown>): string[] => [...ring.keys.keys()];

/** The same ring with every key transformed (imported as a CryptoKey, encoded...). */
export async function mapRing<A, B>(ring: KeyRing<A>, f: (key: A, kid: string) => B | Promise<B>): Promise<KeyRing<B>> {
  const keys = new Map<string, B>();
  for (const [kid, key] of ring.keys) keys.set(kid, await f(key, kid));
  return { current: ring.current, keys };
}

/** Whether `kid` is a well-formed key id. */
export const isKid = (kid: unknown): kid is string => typeof kid === 'string' && KID.test(kid);
