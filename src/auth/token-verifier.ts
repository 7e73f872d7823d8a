/**
 * JWT verification with `jose`. Two kinds of issuer: the platform (HS256 under a secret, tenant id
 * in `tid`) and a tenant's own identity provider (asymmetric keys from its JWKS, its issuer,
 * audience and claim name). Algorithms are allow-listed per issuer: never `none`, never HMAC for
 * an issuer whose keys are asymmetric, so a public key can never be used as an HMAC secret.
 *
 * Platform tokens name the tenant by id only: a slug is reused when a tenant is deleted and
 * another created under the same name, and a token bound to a slug would follow it to the new
 * tenant. A tenant IdP's claim may hold the id or the slug: that issuer is bound to one tenant,
 * and it is the tenant's own IdP that decides what its tokens say.
 *
 * The platform secret is a key ring (src/crypto/key-ring.ts): a token names its key in the
 * protected header's `kid`, a token without one is tried against `k0` only, and a kid the ring
 * does not hold is refused like any bad signature. Only that one key is tried, never each in turn.
 *
 * A token verified once is remembered for the isolate (verified-tokens.ts: by its SHA-256, until
 * its exp at the latest, while its key stands), so the same bearer token sent on every request
 * costs one digest instead of a signature check. What is remembered is only the verification: the
 * tenant checks (`tid`, or the IdP's issuer and claim, against the resolved tenant) run on every
 * request, cached or not.
 */
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../errors.js';
import { keyFor, parseKeyRing, type KeyRing } from '../crypto/key-ring.js';
import type { LookupKey, Tenant } from '../tenancy/tenant.js';
import { JwksCache, type JwksCacheOptions } from './jwks-cache.js';
import { tokenDigest, VerifiedTokens, type VerifiedEntry, type VerifiedTokensOptions } from './verified-tokens.js';
import { checkJwksUrl } from './jwks-url.js';

const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface VerifierOptions {
  /** `secret`: the PLATFORM_JWT_SECRET ring, parsed or as the variable's text (a bare secret is key `k0`). */
  platform: { issuer: string; audience: string; secret: string | KeyRing<string> };
  /** Longest accepted token, in characters. */
  maxTokenLength?: number;
  /** Allowed clock skew for exp/nbf/iat, in seconds. */
  clockToleranceSec?: number;
  /** Tenant IdP key sets (timeouts, size cap, backoff); tests inject fetch and clock. */
  jwks?: JwksCacheOptions;
  /** The isolate's cache of verified tokens (bounds, clock); false: none, every request verifies in full. */
  verifiedTokens?: VerifiedTokensOptions | false;
}

export interface Identity { via: 'platform' | 'tenant'; issuer: string; subject: string | null; claims: JWTPayload }

/** Verifies tokens for a tenant, or finds the tenant a token speaks for. */
export class TokenVerifier {
  private readonly keys: KeyRing<Uint8Array>;
  private readonly maxLen: number;
  private readonly skew: number;
  // One key set per JWKS URL per isolate: single-flight downloads, failure backoff, kid refetch cool-down.
  private readonly jwks: JwksCache;
  private readonly verified: VerifiedTokens<Identity> | null;
  private readonly platformContext: string;

  constructor(private readonly opts: VerifierOptions) {
    this.verified = opts.verifiedTokens === false ? null : new VerifiedTokens<Identity>(opts.verifiedTokens);
    this.platformContext = JSON.stringify(['platform', opts.platform.issuer, opts.platform.audience]);
    this.keys = platformKeys(opts.platform.secret);
    this.maxLen = opts.maxTokenLength ?? 8192;
    this.skew = opts.clockToleranceSec ?? 30;
    this.jwks = new JwksCache({
      onFailure: (url, reason, failures) => console.warn(JSON.stringify({ level: 'warn', msg: 'jwks fetch failed', url, reason, failures })),
      ...opts.jwks,
    });
  }

  /** How many verified tokens this isolate remembers now (bounded by the cache's capacity). */
  get cachedTokens(): number { return this.verified?.size ?? 0; }

  /** For the shared API host: the lookup key a token names. Platform tokens are verified first. */
  async lookupKeyOf(token: string): Promise<{ key: LookupKey; identity?: Identity }> {
    const digest = await this.digest(token);
    const hit = this.recall(digest, null);
    if (hit?.via === 'platform') return { key: { kind: 'id', value: platformTenantId(hit) }, identity: hit };
    const { iss } = this.peek(token);
    if (iss === this.opts.platform.issuer) {
      const identity = await this.verifyPlatform(token, digest);
      return { key: { kind: 'id', value: platformTenantId(identity) }, identity };
    }
    return { key: { kind: 'issuer', value: iss } };
  }

  /** Verifies `token` for `tenant` and checks that its tenant claim names that tenant. */
  async verifyFor(token: string, tenant: Tenant, known?: Identity): Promise<Identity> {
    const digest = known ? null : await this.digest(token);
    const hit = this.recall(digest, tenant.jwt);
    if (hit) return hit.via === 'platform' ? bindPlatform(hit, tenant) : bindTenant(hit, tenant);
    const { iss } = this.peek(token);
    if (iss === this.opts.platform.issuer) return bindPlatform(known ?? await this.verifyPlatform(token, digest), tenant);
    if (!tenant.jwt || iss !== tenant.jwt.issuer) throw new AppError(401, 'INVALID_TOKEN', 'token issuer is not trusted by this tenant');
    return bindTenant(await this.verifyTenant(token, tenant.jwt, digest), tenant);
  }

  /** The cache key of `token` (null without a cache, or for a token too large to be accepted anyway). */
  private async digest(token: string): Promise<string | null> {
    return this.verified && token.length <= this.maxLen ? tokenDigest(token) : null;
  }

  /**
   * A remembered verification of the token with this digest, if it was verified under the same
   * rules (the platform's, or the IdP settings `jwt` of the tenant asked about) with a key that
   * still stands. The tenant checks are the caller's, every time.
   */
  private recall(digest: string | null, jwt: Tenant['jwt']): Identity | null {
    if (!digest || !this.verified) return null;
    const tenantContext = jwt ? contextOf(jwt) : null;
    const e = this.verified.get(digest, (entry) => {
      if (entry.context !== this.platformContext && entry.context !== tenantContext) return 'other';
      return this.keyStands(entry.key) ? 'ok' : 'stale';
    });
    return e?.identity ?? null;
  }

  /** Whether the key a remembered token was verified with still verifies: in the ring, or the same fresh key set download. */
  private keyStands(key: VerifiedEntry<Identity>['key']): boolean {
    if (key.kind === 'platform') return keyFor(this.keys, key.kid) !== undefined;
    const current = this.jwks.generationOf(key.url);
    return current !== null && current.fresh && current.generation === key.generation;
  }

  /** Size and shape checks before any cryptography or lookup. */
  private peek(token: string): { iss: string; alg: string } {
    if (token.length > this.maxLen) throw new AppError(401, 'INVALID_TOKEN', 'token too large');
    try {
      const { alg } = decodeProtectedHeader(token);
      const { iss } = decodeJwt(token);
      if (!alg || alg === 'none') throw new AppError(401, 'INVALID_TOKEN', 'token algorithm not allowed');
      if (typeof iss !== 'string' || iss === '') throw new AppError(401, 'INVALID_TOKEN', 'token has no issuer');
      return { iss, alg };
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError(401, 'INVALID_TOKEN', 'malformed token');
    }
  }

  private async verifyPlatform(token: string, digest: string | null): Promise<Identity> {
    const { issuer, audience } = this.opts.platform;
    const { kid } = decodeProtectedHeader(token);
    const key = kid === undefined || typeof kid === 'string' ? keyFor(this.keys, kid) : undefined;
    if (!key) throw new AppError(401, 'INVALID_TOKEN', 'no key matches the token');
    const { payload } = await this.guard(() => jwtVerify(token, key, {
      issuer, audience, algorithms: ['HS256'], clockTolerance: this.skew, requiredClaims: ['exp'],
    }));
    const identity: Identity = { via: 'platform', issuer, subject: payload.sub ?? null, claims: payload };
    if (digest) this.verified?.set(digest, { identity, context: this.platformContext, key: { kind: 'platform', kid: kid as string | undefined } });
    return identity;
  }

  private async verifyTenant(token: string, jwt: NonNullable<Tenant['jwt']>, digest: string | null): Promise<Identity> {
    const algorithms = jwt.algorithms.filter((a) => ASYMMETRIC.has(a));
    if (algorithms.length === 0) throw new AppError(401, 'INVALID_TOKEN', 'tenant has no usable token algorithms');
    const url = checkJwksUrl(jwt.jwksUrl);
    if (!url.ok) {
      // A misconfigured tenant, not an outage: nothing is fetched, and its users cannot be authenticated.
      console.warn(JSON.stringify({ level: 'warn', msg: 'jwks url refused', issuer: jwt.issuer, reason: url.reason }));
      throw new AppError(401, 'INVALID_TOKEN', "tenant's key set URL is not allowed (https required)");
    }
    let generation: number | null = null;
    const { payload } = await this.guard(() => jwtVerify(token, this.jwks.keyFor(url.url, (g) => { generation = g; }), {
      issuer: jwt.issuer, audience: jwt.audience, algorithms, clockTolerance: this.skew, requiredClaims: ['exp'],
    }));
    const identity: Identity = { via: 'tenant', issuer: jwt.issuer, subject: payload.sub ?? null, claims: payload };
    // Remembered only while the download that verified it is the current, fresh one (not while
    // stale keys stand in for an unreachable IdP: then every request verifies in full).
    const current = this.jwks.generationOf(url.url.href);
    if (digest && generation !== null && current?.fresh && current.generation === generation) {
      this.verified?.set(digest, { identity, context: contextOf(jwt), key: { kind: 'jwks', url: url.url.href, generation } }, current.freshUntil);
    }
    return identity;
  }

  /** Turns jose's errors into refusals with a useful, non-secret message. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new AppError(401, 'INVALID_TOKEN', 'token expired');
      if (err instanceof errors.JWTClaimValidationFailed) {
        const what = err.claim === 'nbf' ? 'token not yet valid' : `token ${err.claim} claim is invalid`;
        throw new AppError(401, 'INVALID_TOKEN', what);
      }
      if (err instanceof errors.JOSEAlgNotAllowed) throw new AppError(401, 'INVALID_TOKEN', 'token algorithm not allowed');
      if (err instanceof errors.JWKSNoMatchingKey) throw new AppError(401, 'INVALID_TOKEN', 'no key matches the token');
      // The key set's own refusals (IdP unreachable: 503) pass through as they are.
      if (err instanceof errors.JOSEError) throw new AppError(401, 'INVALID_TOKEN', 'token signature or format is invalid');
      throw err;
    }
  }
}

/** The ring as HMAC key bytes; every key at least 32 characters (checked again: the ring may come unparsed). */
function platformKeys(secret: string | KeyRing<string>): KeyRing<Uint8Array> {
  let ring = secret;
  if (typeof ring === 'string') {
    const r = parseKeyRing(ring);
    if (!r.ok) throw new Error(`platform JWT secret ${r.error}`);
    ring = r.ring;
  }
  const bytes = new Map<string, Uint8Array>();
  for (const [kid, s] of ring.keys) {
    if (s.length < 32) throw new Error('platform JWT secret must be at least 32 characters');
    bytes.set(kid, new TextEncoder().encode(s));
  }
  return { current: ring.current, keys: bytes };
}

const mismatch = () => new AppError(403, 'TENANT_MISMATCH', 'token belongs to another tenant');

/** The rules a tenant IdP's token was verified under: a change of any of them is a cache miss. */
const contextOf = (jwt: NonNullable<Tenant['jwt']>): string =>
  JSON.stringify(['tenant', jwt.issuer, jwt.audience, jwt.jwksUrl, jwt.algorithms.filter((a) => ASYMMETRIC.has(a))]);

/** A platform identity for `tenant`: its `tid` must be the tenant's id (checked on every request). */
function bindPlatform(identity: Identity, tenant: Tenant): Identity {
  if (platformTenantId(identity) !== tenant.id) throw mismatch();
  return identity;
}

/** A tenant-IdP identity for `tenant`: from its issuer, and its claim naming the tenant (on every request). */
function bindTenant(identity: Identity, tenant: Tenant): Identity {
  if (!tenant.jwt || identity.issuer !== tenant.jwt.issuer) throw new AppError(401, 'INVALID_TOKEN', 'token issuer is not trusted by this tenant');
  const claim = tenant.jwt.claim;
  const value = identity.claims[claim];
  if (typeof value !== 'string' || value === '') throw new AppError(401, 'INVALID_TOKEN', `token has no ${claim} claim`);
  if (value !== tenant.id && value !== tenant.slug) throw mismatch();
  return identity;
}

/** The tenant id a verified platform token is bound to: `tid`, which must be an id, never a slug. */
function platformTenantId(identity: Identity): string {
  const tid = identity.claims.tid;
  if (typeof tid !== 'string' || tid === '') throw new AppError(401, 'INVALID_TOKEN', 'token has no tid claim');
  if (!UUID.test(tid)) throw new AppError(401, 'INVALID_TOKEN', 'token tid claim must be a tenant id');
  return tid.toLowerCase();
}
