/**
 * AES-256-GCM for secrets at rest (a dedicated tenant database's connection string).
 * The tenant id is bound in as additional data, so a ciphertext copied onto another tenant's
 * row does not decrypt. Format: `v1.<iv>.<ciphertext>` in base64url.
 */
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Imports the 32-byte master key given as base64 (or base64url). */
export async function importMasterKey(base64: string): Promise<CryptoKey> {
  const raw = fromB64(base64);
  if (raw.byteLength !== 32) throw new Error('MASTER_KEY must be 32 bytes, base64-encoded');
  return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** Encrypts `plaintext` bound to `context` (the tenant id). */
export async function seal(key: CryptoKey, plaintext: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(context) }, key, enc.encode(plaintext));
  return `v1.${toB64(iv)}.${toB64(new Uint8Array(ct))}`;
}

/** Decrypts a value made by `seal` with the same `context`; throws if it was tampered with. */
export async function open(key: CryptoKey, sealed: string, context: string): Promise<string> {
  const [v, iv, ct] = sealed.split('.');
  if (v !== 'v1' || !iv || !ct) throw new Error('unrecognised sealed secret');
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
