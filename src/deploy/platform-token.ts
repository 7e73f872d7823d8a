/**
 * Platform tokens signed like a platform's auth service signs them: HS256 under the current
 * (first) key of a PLATFORM_JWT_SECRET ring, that key's id in the header, the tenant's id in `tid`.
 */
import { createHmac } from 'node:crypto';

/** A tenant id: platform tokens carry ids, never slugs (a slug can be reused after a delete). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a platform token says: issuer, audience, the tenant's id, its lifetime from `now` (seconds). */
export interface PlatformClaims { issuer: string; audience: string; tenantId: string; ttlSec: number; now: number }

/** The ring's current (first) key and its id; a bare secret has no id (the workers read it as k0). */
export function currentKey(ring: string): { kid?: string; secret: string } {
  const first = ring.split(',')[0]!.trim();
  const colon = first.indexOf(':');
  return colon < 0 ? { secret: first } : { kid: first.slice(0, colon), secret: first.slice(colon + 1).trim() };
}

/** Signs an HS256 platform token naming the tenant's id in `tid`. */
export function signPlatformToken(ring: string, c: PlatformClaims): string {
  const { kid, secret } = currentKey(ring);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64({ iss: c.issuer, aud: c.audience, sub: 'operator', tid: c.tenantId, iat: c.now, exp: c.now + c.ttlSec })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}
