/**
 * The signed tenant context: a short-lived ES256 JWT the router adds to every proxied request
 * (`X-Tenant-Context`), so the origin learns who the tenant and the caller are from the router,
 * never from headers a client could set. `aud` is the origin it is meant for, `jti` unique per
 * context (an origin that remembers the ids it saw for a minute refuses a replayed one), `rid`
 * the request id for correlating logs. The public keys are served at /.well-known/jwks.json.
 */
import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { currentKey, kidsOf, type KeyRing } from '../crypto/key-ring.js';
import type { PrivateEcJwk } from './signing-keys.js';

/** The header a proxied request carries its context in. */
export const CONTEXT_HEADER = 'X-Tenant-Context';
/** The context's `typ`: an origin checks it so no other JWT of the platform passes for a context. */
export const CONTEXT_TYP = 'tenant-context+jwt';
/** How long a context is valid (an origin's replay memory must last at least this long). */
export const CONTEXT_TTL_SECONDS = 60;

/** What a context says, besides iss/aud/iat/exp/jti. */
export interface TenantContext {
  tid: string;
  slug: string;
  tier: string;
  /** The region the tenant's data is in. */
  region: string;
  /** The caller's subject (`sub` of their token); absent when the token had none. */
  sub: string | null;
  /** The request id (X-Request-Id). */
  rid: string;
}

/** Signs contexts with the ring's current key; publishes every key of the ring. */
export class ContextSigner {
  private key: Promise<CryptoKey | Uint8Array> | null = null;

  constructor(private readonly ring: KeyRing<PrivateEcJwk>, private readonly issuer: string, private readonly now: () => number = Date.now) {}

  /** A context for `audience` (the origin), valid CONTEXT_TTL_SECONDS. */
  async sign(ctx: TenantContext, audience: string): Promise<string> {
    const { kid } = currentKey(this.ring);
    // Imported once per isolate; a failed import is retried by the next request.
    this.key ??= importJWK(currentKey(this.ring).key as JWK, 'ES256').catch((err) => { this.key = null; throw err; });
    const iat = Math.floor(this.now() / 1000);
    const { sub, ...claims } = ctx;
    const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid, typ: CONTEXT_TYP })
      .setIssuer(this.issuer).setAudience(audience).setIssuedAt(iat).setExpirationTime(iat + CONTEXT_TTL_SECONDS)
      .setJti(crypto.randomUUID());
    if (sub) jwt.setSubject(sub);
    return jwt.sign(await this.key);
  }

  /** The public keys, current first, as a JWKS. */
  jwks(): { keys: JWK[] } {
    return {
      keys: kidsOf(this.ring).map((kid) => {
        const k = this.ring.keys.get(kid)!;
        return { kty: k.kty, crv: k.crv, x: k.x, y: k.y, kid, alg: 'ES256', use: 'sig' };
      }),
    };
  }
}
