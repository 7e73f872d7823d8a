/**
 * Proxy mode's variables, parsed once with the rest of the router's configuration (src/env.ts):
 *   ORIGINS              JSON region → origin: `{"aws-eu-central-1": "https://eu.app.example.com",
 *                        "aws-us-east-2": "service:APP_US"}` (an http(s) base URL, or a service binding)
 *   PROXY_PREFIXES       path prefixes that are forwarded: `/app/,/v2/` (a tenant may replace them)
 *   CONTEXT_SIGNING_KEY  the ES256 key ring signing the tenant context (./signing-keys.ts)
 *   ORIGIN_TIMEOUT_MS    longest wait for an origin's response headers (default 10000)
 *   ORIGIN_BREAKER       each origin's breaker: `failures/windowSeconds/cooldownSeconds` (default 5/30/10)
 *   PROXY_ORIGIN_LOOPBACK  `true`: a tenant's dedicated origin may be http://127.0.0.1 or localhost (local stack only)
 */
import { z } from 'zod';
import { jurisdictionOf } from '../regions.js';
import { signingKeysVar } from './signing-keys.js';
import type { BreakerLimits } from '../breaker/circuit.js';

/** Where requests are forwarded: an http(s) base URL, or a service binding of the router. */
export type OriginTarget =
  | { kind: 'url'; id: string; base: string }
  | { kind: 'service'; id: string; binding: string };

const SERVICE = /^service:([A-Za-z_][A-Za-z0-9_]{0,63})$/;
const PREFIX = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,199}$/;

/**
 * The target `value` names, or the reason it names none. The id is what a context's `aud` and the
 * origin's breaker are keyed by: `service:NAME`, or the URL without a trailing slash.
 */
export function parseTarget(value: string): OriginTarget | string {
  const s = SERVICE.exec(value);
  if (s) return { kind: 'service', id: `service:${s[1]}`, binding: s[1]! };
  let u: URL;
  try { u = new URL(value); } catch { return 'must be an http(s) URL or service:NAME'; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL or service:NAME';
  if (u.search || u.hash || u.username || u.password) return 'must have no query, fragment or credentials';
  const base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  return { kind: 'url', id: base, base };
}

/** Whether `p` is a usable path prefix. */
export const isPrefix = (p: string): boolean => PREFIX.test(p);

export const originsVar = z.string().optional().transform((s, ctx) => {
  const out: Record<string, OriginTarget> = {};
  if (s === undefined || s.trim() === '') return out;
  let raw: unknown;
  try { raw = JSON.parse(s); } catch { raw = null; }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object of region → origin URL or service:NAME' });
    return z.NEVER;
  }
  for (const [region, value] of Object.entries(raw)) {
    const t = typeof value === 'string' ? parseTarget(value) : 'must be a string';
    const why = !jurisdictionOf(region) ? 'is not a known region' : typeof t === 'string' ? t : null;
    if (why) { ctx.addIssue({ code: 'custom', message: `${region.slice(0, 64)} ${why}` }); return z.NEVER; }
    out[region] = t as OriginTarget;
  }
  return out;
});

const prefixes = z.string().optional().transform((s, ctx) => {
  const list = (s ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  const bad = list.findIndex((p) => !isPrefix(p));
  if (bad >= 0) { ctx.addIssue({ code: 'custom', message: `entry ${bad + 1} must be a path starting with /` }); return z.NEVER; }
  return list;
});

const breaker = z.string().default('5/30/10').transform((s, ctx): BreakerLimits => {
  const m = /^(\d{1,5})\/(\d{1,5})\/(\d{1,5})$/.exec(s.trim());
  const [f, w, c] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  if (f < 1 || w < 1 || c < 1) { ctx.addIssue({ code: 'custom', message: 'must be failures/windowSeconds/cooldownSeconds, each at least 1' }); return z.NEVER; }
  return { failures: f, windowMs: w * 1000, cooldownMs: c * 1000 };
});

/** The variables, to spread into the router's configuration schema. */
export const PROXY_VARS = {
  ORIGINS: originsVar,
  PROXY_ORIGIN_LOOPBACK: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  PROXY_PREFIXES: prefixes,
  CONTEXT_SIGNING_KEY: signingKeysVar().optional(),
  ORIGIN_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  ORIGIN_BREAKER: breaker,
};

/** Proxy mode without a key to sign contexts with is a misconfiguration: the reason, or null. */
export function checkProxyVars(c: { ORIGINS: Record<string, OriginTarget>; PROXY_PREFIXES: string[]; CONTEXT_SIGNING_KEY?: unknown }): string | null {
  const used = Object.keys(c.ORIGINS).length > 0 || c.PROXY_PREFIXES.length > 0;
  return used && !c.CONTEXT_SIGNING_KEY ? 'CONTEXT_SIGNING_KEY: is required when ORIGINS or PROXY_PREFIXES is set' : null;
}
