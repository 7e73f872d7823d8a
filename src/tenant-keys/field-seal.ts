/**
 * Field encryption with a tenant's data key: AES-256-GCM, a fresh 96-bit IV per value, the
 * additional data binding the tenant id and the field name, so a value sealed for tenant A or
 * field `x` does not open for tenant B or field `y` (GCM authentication fails).
 *
 * Format (text, safe in any column): `tk1.<iv>.<ciphertext+tag>`, base64url parts. The data key
 * itself is never named: a tenant has exactly one, and it is destroyed when the tenant is erased.
 *
 * Pure apart from WebCrypto.
 */
import { fromB64, toB64 } from './data-key.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const PREFIX = 'tk1';
/** A field name: what the application calls the column or attribute (bound into the AAD). */
const FIELD = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Largest plaintext sealed in one value (UTF-8 bytes). */
export const MAX_PLAINTEXT_BYTES = 64 * 1024;

/** Why `field` cannot be used, or null. */
export const fieldRefusal = (field: unknown): string | null =>
  typeof field === 'string' && FIELD.test(field) ? null : 'field must be 1-64 characters of A-Z, a-z, 0-9, _ . : -';

/** The additional data of a value: tenant and field, unambiguous (neither may contain a newline). */
export const aadOf = (tenantId: string, field: string): Uint8Array => enc.encode(`${PREFIX}\n${tenantId}\n${field}`);

/** Seals `plaintext` for (`tenantId`, `field`) with `key`. */
export async function sealField(key: CryptoKey, tenantId: string, field: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aadOf(tenantId, field) }, key, enc.encode(plaintext));
  return `${PREFIX}.${toB64(iv)}.${toB64(new Uint8Array(ct))}`;
}

/** Whether `sealed` has the shape of a sealed field (says nothing about whether it opens). */
export function isSealedField(sealed: unknown): sealed is string {
  if (typeof sealed !== 'string') return false;
  const parts = sealed.split('.');
  return parts.length === 3 && parts[0] === PREFIX && /^[A-Za-z0-9_-]{16}$/.test(parts[1]!) && /^[A-Za-z0-9_-]{22,}$/.test(parts[2]!);
}

/** Opens a value made by `sealField` for the same tenant and field; throws when it does not open. */
export async function openField(key: CryptoKey, tenantId: string, field: string, sealed: string): Promise<string> {
  const [, iv, ct] = sealed.split('.') as [string, string, string];
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromB64(iv), additionalData: aadOf(tenantId, field) }, key, fromB64(ct));
  return dec.decode(pt);
}
