/**
 * A tenant's data key (envelope encryption): 32 random bytes, AES-256-GCM, generated once per
 * tenant and stored only wrapped (sealed) under the MASTER_KEY ring by secret-box.ts, bound to
 * `tenant-key:<tenant id>` so a wrapped key copied onto another tenant's row does not unwrap
 * (and a wrapped key is never confused with a connection secret, which is bound to the bare id).
 * The wrapped form names the ring key (`v2.<kid>.…`): a ring rotation re-wraps it (rewrap.ts)
 * and nothing sealed with the data key changes.
 *
 * Pure apart from WebCrypto.
 */
import { open, seal, type MasterKeys } from '../crypto/secret-box.js';

/** What a wrapped data key is bound to (the AAD of its wrapping). */
export const wrapContext = (tenantId: string): string => `tenant-key:${tenantId}`;

/** A fresh data key, wrapped under the ring's current key, for `tenantId`. */
export async function newWrappedKey(ring: MasterKeys, tenantId: string): Promise<string> {
  return seal(ring, toB64(crypto.getRandomValues(new Uint8Array(32))), wrapContext(tenantId));
}

/** The raw key bytes of `wrapped` (throws UnknownKeyError for a kid the ring lacks, an Error when it does not open). */
export async function unwrapRaw(ring: MasterKeys, wrapped: string, tenantId: string): Promise<Uint8Array<ArrayBuffer>> {
  const raw = fromB64(await open(ring, wrapped, wrapContext(tenantId)));
  if (raw.byteLength !== 32) throw new Error('a tenant data key must be 32 bytes');
  return raw;
}

/** `wrapped`, unwrapped and imported as a non-extractable AES-GCM key. */
export async function unwrapKey(ring: MasterKeys, wrapped: string, tenantId: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', await unwrapRaw(ring, wrapped, tenantId), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** `wrapped` re-wrapped under the ring's current key (same data key). */
export async function rewrap(ring: MasterKeys, wrapped: string, tenantId: string): Promise<string> {
  return seal(ring, toB64(await unwrapRaw(ring, wrapped, tenantId)), wrapContext(tenantId));
}

export function toB64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromB64(s: string): Uint8Array<ArrayBuffer> {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}
