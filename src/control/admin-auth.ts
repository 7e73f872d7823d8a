/**
 * Admin authentication: the ADMIN_TOKEN bearer secret, compared in constant time (both sides
 * hashed first, so neither length nor prefix leaks), or a JWT from the operators' identity
 * provider carrying `admin:read` (GET) or `admin:write` (everything) in its `scope`. The JWT's
 * `sub` names the operator (audit actor, owner of Idempotency-Keys), so a JWT without one is
 * refused: two such tokens would otherwise share one principal.
 */
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AppError } from '../errors.js';
import type { ControlConfig } from './env.js';

export type Scope = 'admin:read' | 'admin:write';
export interface Admin { actor: string; scopes: Scope[] }

const enc = new TextEncoder();
const digest = async (s: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(s)));

/** Checks admin credentials. */
export class AdminAuthenticator {
  private readonly secret: Promise<Uint8Array>;
  private readonly jwks: JWTVerifyGetKey | null;

  constructor(private readonly config: Pick<ControlConfig, 'ADMIN_TOKEN' | 'ADMIN_JWKS_URL' | 'ADMIN_JWT_ISSUER' | 'ADMIN_JWT_AUDIENCE' | 'ADMIN_JWT_MAX_AGE_SECONDS'>) {
    this.secret = digest(config.ADMIN_TOKEN);
    this.jwks = config.ADMIN_JWKS_URL ? createRemoteJWKSet(new URL(config.ADMIN_JWKS_URL), { timeoutDuration: 3000, cooldownDuration: 30_000 }) : null;
  }

  /** The admin behind `bearer`, or a 401. */
  async authenticate(bearer: string | null): Promise<Admin> {
    if (!bearer) throw new AppError(401, 'UNAUTHENTICATED', 'an admin bearer token is required', { 'WWW-Authenticate': 'Bearer' });
    if (await this.isSecret(bearer)) return { actor: 'admin-token', scopes: ['admin:read', 'admin:write'] };
    if (this.jwks && bearer.split('.').length === 3) {
      try {
        // A token without exp never expires, and a long-lived one is a standing credential: both
        // claims are required, iat may be at most the maximum age ago (jose also refuses a
        // future iat then), and exp at most the maximum lifetime after iat.
        const maxAge = this.config.ADMIN_JWT_MAX_AGE_SECONDS;
        const { payload } = await jwtVerify(bearer, this.jwks, {
          issuer: this.config.ADMIN_JWT_ISSUER, audience: this.config.ADMIN_JWT_AUDIENCE, clockTolerance: 30,
          algorithms: ['RS256', 'ES256', 'EdDSA'], requiredClaims: ['exp', 'iat', 'sub'], maxTokenAge: maxAge,
        });
        if (payload.exp! - payload.iat! > maxAge) throw new Error('admin token lifetime exceeds the maximum');
        const scopes = (typeof payload.scope === 'string' ? payload.scope.split(' ') : [])
          .filter((s): s is Scope => s === 'admin:read' || s === 'admin:write');
        return { actor: await jwtActor(payload.sub!), scopes };
      } catch {
        throw new AppError(401, 'INVALID_TOKEN', 'admin token is not valid', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      }
    }
    throw new AppError(401, 'INVALID_TOKEN', 'admin token is not valid', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }

  private async isSecret(candidate: string): Promise<boolean> {
    const [a, b] = [await this.secret, await digest(candidate)];
    const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (x: ArrayBufferView, y: ArrayBufferView) => boolean };
    if (subtle.timingSafeEqual) return subtle.timingSafeEqual(a, b);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
    return diff === 0;
  }
}

const SUB_KEPT = 100;
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/**
 * The principal of an admin JWT's subject: `jwt:<sub>`; a subject over 100 characters keeps its
 * first 36 and its sha256 (`jwt:<36 chars>…sha256:<64 hex>`), longer than any kept subject, so
 * no two subjects share a principal. An empty subject, or one with a lone surrogate, is refused.
 */
export async function jwtActor(sub: string): Promise<string> {
  if (sub.length === 0 || /\p{Cs}/u.test(sub)) throw new Error('admin token has an empty or malformed subject');
  if (sub.length <= SUB_KEPT) return `jwt:${sub}`;
  return `jwt:${[...sub].slice(0, 36).join('')}…sha256:${hex(await digest(sub))}`;
}

/** The scope a request needs: reading is `admin:read`, anything else `admin:write`. */
export const scopeFor = (method: string): Scope => (method === 'GET' || method === 'HEAD' ? 'admin:read' : 'admin:write');
