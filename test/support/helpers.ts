/** Shared helpers: the stack, tokens, requests through the router, direct SQL for assertions. */
import { SELF } from 'cloudflare:test';
import { neon } from '@neondatabase/serverless';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { inject } from 'vitest';
import { useLocalNeonEndpoint } from '../../src/data/neon-config.js';
import type { Stack } from './stack-types.js';

export const stack: Stack = inject('stack');
useLocalNeonEndpoint(stack.neonEndpoint);

/** The seeded tenant called `slug`. */
export const tenant = (slug: string) => {
  const t = stack.tenants[slug];
  if (!t) throw new Error(`no seeded tenant ${slug}`);
  return t;
};

/**
 * A platform token (HS256) for `slug`, with claim overrides and an optional expiry offset, signed
 * with the ring's current key and its kid (or another `secret` and `kid`; `kid: null` sends none).
 */
export async function platformToken(slug: string, claims: JWTPayload = {}, opts: { exp?: number | string; nbf?: number | string; secret?: string; kid?: string | null } = {}): Promise<string> {
  const kid = opts.kid === undefined ? stack.platform.kid : opts.kid ?? undefined;
  const jwt = new SignJWT({ tid: tenant(slug).id, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(kid ? { kid } : {}) })
    .setIssuer(stack.platform.issuer).setAudience(stack.platform.audience).setSubject('user-1').setIssuedAt()
    .setExpirationTime(opts.exp ?? '10m');
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? stack.platform.secret));
}

/** A token from test identity provider `idp` (its real private key), with `claims`. */
export async function idpToken(idp: string, claims: JWTPayload, opts: { kid?: string; exp?: number | string; audience?: string; issuer?: string } = {}): Promise<string> {
  const p = stack.jwks.idps[idp]!;
  const key = await importJWK(p.privateJwk, p.alg);
  return new SignJWT(claims).setProtectedHeader({ alg: p.alg, kid: opts.kid ?? p.kid })
    .setIssuer(opts.issuer ?? p.issuer).setAudience(opts.audience ?? '').setIssuedAt().setExpirationTime(opts.exp ?? '10m')
    .sign(key);
}

/** Sends a request through the router as the edge would, with `host` as the Host header. */
export function call(host: string, path: string, init: RequestInit & { token?: string; cf?: Record<string, unknown> } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('host', host);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  const { token: _t, cf, ...rest } = init;
  return SELF.fetch(`http://${host.replace(/:\d+$/, '')}${path}`, { ...rest, headers, cf } as RequestInit);
}

/** Posts a JSON body. */
export function postJson(host: string, path: string, body: unknown, token: string, extra: RequestInit = {}): Promise<Response> {
  return call(host, path, { ...extra, method: 'POST', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(extra.headers as object) } });
}

/** The JSON error body's code, asserting the error shape on the way. */
export async function errorOf(res: Response): Promise<{ code: string; message: string; requestId: string }> {
  const body = await res.json() as { error: { code: string; message: string; requestId: string } };
  if (!body.error || typeof body.error.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not the error shape: ${JSON.stringify(body)}`);
  }
  return body.error;
}

/** A Neon HTTP client for a connection URL of the stack (queries go through the local endpoint). */
export const sqlAt = (url: string) => neon(url);

/** How many SQL requests reached the local Neon endpoint with `param` among their bound parameters. */
export async function queriesWithParam(param: string, db?: string): Promise<number> {
  const q = new URLSearchParams({ param, ...(db ? { db } : {}) });
  const r = await fetch(`${stack.neonEndpoint}/_stats?${q}`);
  return ((await r.json()) as { count: number }).count;
}

/** HTTP requests (each one transaction: setup, statements, checks) that reached the local Neon endpoint with `param` bound. */
export async function requestsWithParam(param: string, db?: string): Promise<number> {
  const q = new URLSearchParams({ param, ...(db ? { db } : {}) });
  const r = await fetch(`${stack.neonEndpoint}/_stats?${q}`);
  return ((await r.json()) as { requests: number }).requests;
}

/** A random label, for hosts and titles no other test uses. */
export const unique = (prefix = 'x') => `${prefix}${crypto.randomUUID().replace(/-/g, '').slice(0, 12)}`;
