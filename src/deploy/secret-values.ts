/**
 * Fresh secret values, from an injected source of randomness and clock so tests can pin them.
 * MASTER_KEY, PLATFORM_JWT_SECRET and CONTEXT_SIGNING_KEY are key rings (./key-ring.ts); the others are plain strings.
 */
import { createECDH } from 'node:crypto';
import { newKid, ringEntry, rotateRing } from './key-ring.js';

/** Where fresh values come from: random bytes and today's date (for key ids). */
export interface Randomness { bytes(n: number): Uint8Array; now(): Date }

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

/** A MASTER_KEY entry's secret: 32 random bytes, base64 (AES-256-GCM). */
const masterSecret = (r: Randomness) => b64(r.bytes(32));
/** A PLATFORM_JWT_SECRET entry's secret: 32 random bytes, base64url (43 characters, HS256). */
const jwtSecret = (r: Randomness) => b64url(r.bytes(32));

/**
 * A CONTEXT_SIGNING_KEY entry's secret: an ES256 (P-256) private JWK as base64url JSON, its
 * private scalar 32 random bytes (a value outside the curve's order, one in 2^32, draws again).
 */
function contextSecret(r: Randomness): string {
  for (let i = 0; i < 8; i++) {
    const d = r.bytes(32);
    const ecdh = createECDH('prime256v1');
    try { ecdh.setPrivateKey(Buffer.from(d)); } catch { continue; }
    const pub = ecdh.getPublicKey();
    const jwk = { kty: 'EC', crv: 'P-256', x: b64url(pub.subarray(1, 33)), y: b64url(pub.subarray(33, 65)), d: b64url(d) };
    return Buffer.from(JSON.stringify(jwk)).toString('base64url');
  }
  throw new Error('could not draw a P-256 private key');
}

/** The names `--rotate` accepts. */
export const ROTATABLE = ['MASTER_KEY', 'PLATFORM_JWT_SECRET', 'CONTEXT_SIGNING_KEY', 'ADMIN_TOKEN', 'ROUTER_PASSWORDS'] as const;
/** A name `--rotate` accepts. */
export type Rotatable = (typeof ROTATABLE)[number];

/** A new ring, or `ring` with a new key in front. */
function ringValue(r: Randomness, ring: string | undefined, secret: (r: Randomness) => string): string {
  const entry = ringEntry(newKid(r.now(), ring), secret(r));
  return ring ? rotateRing(ring, entry) : entry;
}

/** MASTER_KEY: fresh, or `ring` rotated. */
export const masterKey = (r: Randomness, ring?: string): string => ringValue(r, ring, masterSecret);
/** PLATFORM_JWT_SECRET: fresh, or `ring` rotated. */
export const platformJwtSecret = (r: Randomness, ring?: string): string => ringValue(r, ring, jwtSecret);
/** CONTEXT_SIGNING_KEY (proxy mode's tenant contexts): fresh, or `ring` rotated (the old key stays published). */
export const contextSigningKey = (r: Randomness, ring?: string): string => ringValue(r, ring, contextSecret);
/** ADMIN_TOKEN: 32 random bytes, base64url (43 characters; the control plane wants ≥ 32). */
export const adminToken = (r: Randomness): string => b64url(r.bytes(32));
/** A database role's password: 24 random bytes, base64url (URL-safe, 32 characters). */
export const rolePassword = (r: Randomness): string => b64url(r.bytes(24));
