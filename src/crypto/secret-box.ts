/**
 * AES-256-GCM for secrets at rest (a dedicated tenant database's connection string), under the
 * MASTER_KEY ring. The tenant id is bound in as additional data, so a ciphertext copied onto
 * another tenant's row does not decrypt.
 *
 * Formats, base64url parts: `v2.<kid>.<iv>.<ciphertext>` names the key that sealed it;
 * `v1.<iv>.<ciphertext>` is key `k0`, the format of secrets sealed before rings. Sealing under
 * `k0` still writes `v1`, so a ring-unaware worker of a mixed deployment can open what a new one
 * sealed until both are upgraded.
 */
import { currentKey, isKid, keyFor, LEGACY_KID, mapRing, parseKeyRing, type KeyRing } from './key-ring.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The imported MASTER_KEY ring. */
export type MasterKeys = KeyRing<CryptoKey>;

/** A sealed value that names a key this ring does not hold (retired too early, or from another deployment). */
export class UnknownKeyError extends Error {
  override readonly name = 'UnknownKeyError';
  constructor(readonly kid: string) {
    super(`sealed under key ${kid}, which is not in the MASTER_KEY ring`);
  }
}

/**
 * The check every MASTER_KEY secret passes: 32 bytes, base64 (or base64url), and not one byte
 * repeated (the all-zero placeholder of the examples is refused rather than sealing with it).
 */
export function checkMasterSecret(secret: string): string | null {
  let bytes: Uint8Array;
  try {
    bytes = fromB64(secret);
  } catch {
    return 'must be 32 bytes, base64-encoded';
  }
  if (bytes.byteLength !== 32) return 'must be 32 bytes, base64-encoded';
  return bytes.every((b) => b === bytes[0]) ? 'is a placeholder (one byte repeated), not a random key' : null;
}

/** Imports a MASTER_KEY ring, given as the variable's text (`k2:…,k1:…`, or one bare key) or already parsed. */
export async function importMasterKey(value: string | KeyRing): Promise<MasterKeys> {
  let ring = value;
  if (typeof ring === 'string') {
    const r = parseKeyRing(ring, checkMasterSecret);
    if (!r.ok) throw new Error(`MASTER_KEY ${r.error}`);
    ring = r.ring;
  }
  return mapRing(ring, (secret) => {
    if (checkMasterSecret(secret)) throw new Error('MASTER_KEY must be 32 bytes, base64-encoded');
    return crypto.subtle.importKey('raw', fromB64(secret), 'AES-GCM', false, ['encrypt', 'decrypt']);
  });
}

/** Encrypts `plaintext` bound to `context` (the tenant id) under the ring's current key. */
export async function seal(keys: MasterKeys, plaintext: string, context: string): Promise<string> {
  const { kid, key } = currentKey(keys);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(context) }, key, enc.encode(plaintext));
  const body = `${toB64(iv)}.${toB64(new Uint8Array(ct))}`;
  return kid === LEGACY_KID ? `v1.${body}` : `v2.${kid}.${body}`;
}

/** The id of the key `sealed` was sealed under, or null when it is no sealed value of ours. */
export function sealedKid(sealed: string): string | null {
  const parts = sealed.split('.');
  if (parts[0] === 'v1' && parts.length === 3) return LEGACY_KID;
  if (parts[0] === 'v2' && parts.length === 4 && isKid(parts[1])) return parts[1];
  return null;
}

/**
 * Decrypts a value made by `seal` with the same `context`, with the key it names; throws
 * `UnknownKeyError` when the ring lacks that key, and an Error when it was tampered with.
 */
export async function open(keys: MasterKeys, sealed: string, context: string): Promise<string> {
  const kid = sealedKid(sealed);
  if (!kid) throw new Error('unrecognised sealed secret');
  const key = keyFor(keys, kid);
  if (!key) throw new UnknownKeyError(kid);
  const [iv, ct] = sealed.split('.').slice(-2) as [string, string];
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromB64(iv), additionalData: enc.encode(context) }, key, fromB64(ct));
  return dec.decode(pt);
}

function toB64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64(s: string): Uint8Array<ArrayBuffer> {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}
