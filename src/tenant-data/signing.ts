/**
 * Signatures of export manifests and erasure receipts: HMAC-SHA256 under a key derived (HKDF,
 * info `tenant-data-signing`) from each MASTER_KEY ring key, named `master:<kid>`. The control
 * plane holds the ring already, so no new secret is deployed; a rotation of the ring rotates
 * the signing key too, and a document signed under a key still in the ring keeps verifying.
 * Anyone holding the ring can verify (the control plane: POST /admin/v1/exports/verify); a tenant
 * verifies through it (docs/tenant-keys.md says why not ES256).
 *
 * What is signed is the document's canonical JSON (keys sorted, no whitespace) without its
 * `signature` member. Pure apart from WebCrypto.
 */
import { fromB64, toB64 } from '../tenant-keys/data-key.js';
import type { KeyRing } from '../crypto/key-ring.js';

export interface Signature { alg: 'HS256'; kid: string; value: string }

const enc = new TextEncoder();
const derived = new WeakMap<object, Promise<Map<string, CryptoKey>>>();

/** The HMAC keys derived from a MASTER_KEY ring (the variable's parsed form), by ring kid. */
function keysOf(ring: KeyRing<string>): Promise<Map<string, CryptoKey>> {
  let p = derived.get(ring);
  if (!p) {
    p = (async () => {
      const out = new Map<string, CryptoKey>();
      for (const [kid, secret] of ring.keys) {
        const base = await crypto.subtle.importKey('raw', fromB64(secret), 'HKDF', false, ['deriveKey']);
        out.set(kid, await crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: enc.encode('tenant-data-signing') },
          base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign', 'verify']));
      }
      return out;
    })();
    derived.set(ring, p);
  }
  return p;
}

/** `value` as canonical JSON: object keys sorted, recursively. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `doc` with its signature under the ring's current key. */
export async function signDocument<T extends object>(ring: KeyRing<string>, doc: T): Promise<T & { signature: Signature }> {
  const key = (await keysOf(ring)).get(ring.current)!;
  const mac = await crypto.subtle.sign('HMAC', key, enc.encode(canonicalJson(doc)));
  return { ...doc, signature: { alg: 'HS256', kid: `master:${ring.current}`, value: toB64(new Uint8Array(mac)) } };
}

/** Whether `doc.signature` is a valid signature of the rest of `doc` under a key of the ring. */
export async function verifyDocument(ring: KeyRing<string>, doc: { signature?: unknown; [k: string]: unknown }): Promise<{ valid: boolean; kid: string | null }> {
  const sig = doc.signature as Partial<Signature> | undefined;
  if (!sig || sig.alg !== 'HS256' || typeof sig.kid !== 'string' || typeof sig.value !== 'string' || !sig.kid.startsWith('master:')) return { valid: false, kid: null };
  const key = (await keysOf(ring)).get(sig.kid.slice('master:'.length));
  if (!key) return { valid: false, kid: sig.kid };
  const { signature: _s, ...rest } = doc;
  let mac: Uint8Array<ArrayBuffer>;
  try { mac = fromB64(sig.value); } catch { return { valid: false, kid: sig.kid }; }
  return { valid: await crypto.subtle.verify('HMAC', key, mac, enc.encode(canonicalJson(rest))), kid: sig.kid };
}

/** SHA-256 of `text`, hex. */
export async function sha256Hex(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(text)));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}
