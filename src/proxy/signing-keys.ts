/**
 * CONTEXT_SIGNING_KEY: the ES256 private keys the router signs tenant contexts with, as a key ring
 * (src/crypto/key-ring.ts): `kid:<base64url of the private JWK's JSON>,...`, the first one signs,
 * the others are only still published at /.well-known/jwks.json so that contexts signed a moment
 * before a rotation keep verifying. A single JWK's JSON (`{"kty":"EC",...}`) is accepted too: one
 * key, its `kid` that of the JWK (else `k0`). `npm run secrets` generates the ring form.
 *
 * Pure parsing; error messages name the entry's position, never a key.
 */
import { z } from 'zod';
import { isKid, LEGACY_KID, parseKeyRing, type KeyRing } from '../crypto/key-ring.js';

/** A P-256 private key as a JWK (the fields ES256 needs). */
export interface PrivateEcJwk { kty: 'EC'; crv: 'P-256'; x: string; y: string; d: string }

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The JWK in `json` when it is a P-256 private key, else the reason. */
function ecPrivate(json: unknown): PrivateEcJwk | string {
  const j = json as Partial<Record<string, unknown>> | null;
  if (!j || typeof j !== 'object') return 'is not a JWK';
  if (j.kty !== 'EC' || j.crv !== 'P-256') return 'must be an EC P-256 key (ES256)';
  for (const f of ['x', 'y', 'd'] as const) {
    if (typeof j[f] !== 'string' || !B64URL.test(j[f] as string)) return f === 'd' ? 'must be a private key (no "d")' : `has no valid "${f}"`;
  }
  return { kty: 'EC', crv: 'P-256', x: j.x as string, y: j.y as string, d: j.d as string };
}

/** The UTF-8 text of base64url `s`, or null. */
function fromBase64url(s: string): string | null {
  if (!B64URL.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    return new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
  } catch { return null; }
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try { return JSON.parse(text); } catch { return null; }
}

export type SigningKeysParse = { ok: true; ring: KeyRing<PrivateEcJwk> } | { ok: false; error: string };

/** Parses CONTEXT_SIGNING_KEY. */
export function parseSigningKeys(value: string): SigningKeysParse {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) {
    const json = parseJson(trimmed) as { kid?: unknown } | null;
    const key = ecPrivate(json);
    if (typeof key === 'string') return { ok: false, error: key };
    const kid = json?.kid === undefined ? LEGACY_KID : json.kid;
    if (!isKid(kid)) return { ok: false, error: 'the JWK\'s kid must be 1-32 characters of a-z, 0-9, _ and -' };
    return { ok: true, ring: { current: kid, keys: new Map([[kid, key]]) } };
  }
  // The ring parser checks ids and separators; each secret must decode to a private JWK.
  const check = (secret: string) => { const k = ecPrivate(parseJson(fromBase64url(secret))); return typeof k === 'string' ? `the key ${k} (expected base64url of a private JWK)` : null; };
  const r = parseKeyRing(trimmed.includes(':') ? trimmed : `${LEGACY_KID}:${trimmed}`, check);
  if (!r.ok) return r;
  const keys = new Map<string, PrivateEcJwk>();
  for (const [kid, secret] of r.ring.keys) keys.set(kid, ecPrivate(parseJson(fromBase64url(secret))) as PrivateEcJwk);
  return { ok: true, ring: { current: r.ring.current, keys } };
}

/** A zod schema for CONTEXT_SIGNING_KEY (the issue names the problem, never the key). */
export const signingKeysVar = () => z.string().transform((s, ctx) => {
  const r = parseSigningKeys(s);
  if (r.ok) return r.ring;
  ctx.addIssue({ code: 'custom', message: r.error });
  return z.NEVER;
});
