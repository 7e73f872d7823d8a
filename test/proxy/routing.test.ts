/**
 * Proxy mode's pure decisions: which paths are forwarded, which origin a tenant gets (residency
 * failing closed), which headers cross, and how the variables are parsed and refused.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { parseConfig, type Env } from '../../src/env.js';
import { parseTarget, type OriginTarget } from '../../src/proxy/config.js';
import { badPath, requestHeaders, responseHeaders, scopeCookie } from '../../src/proxy/headers.js';
import { chooseOrigin, isProxied, underPrefix, upstreamUrl } from '../../src/proxy/routing.js';
import { parseSigningKeys } from '../../src/proxy/signing-keys.js';
import { proxyServices } from '../../src/proxy/services.js';
import type { Tenant } from '../../src/tenancy/tenant.js';

const url = (u: string) => parseTarget(u) as OriginTarget;
const ORIGINS = { 'aws-us-east-2': url('https://us.origin.test'), 'aws-eu-west-1': url('https://eu.origin.test/base/') };
type T = Pick<Tenant, 'region' | 'residency' | 'placement' | 'proxy'>;
const t = (over: Partial<T> = {}): T => ({ region: 'aws-us-east-2', residency: null, placement: null, proxy: null, ...over });

describe('which paths are forwarded', () => {
  it('matches prefixes, and a prefix ending in / also covers the bare segment', () => {
    expect(underPrefix('/app/x', ['/app/'])).toBe(true);
    expect(underPrefix('/app', ['/app/'])).toBe(true);
    expect(underPrefix('/apple', ['/app/'])).toBe(false);
    expect(underPrefix('/v2/a', ['/app/', '/v2/'])).toBe(true);
    expect(underPrefix('/api/v1/tracks', [])).toBe(false);
  });

  it('uses the tenant\'s prefixes instead of the router\'s when it has them; [] forwards nothing', () => {
    expect(isProxied('/app/x', t(), ['/app/'])).toBe(true);
    expect(isProxied('/app/x', t({ proxy: { origin: null, prefixes: ['/own/'] } }), ['/app/'])).toBe(false);
    expect(isProxied('/own/x', t({ proxy: { origin: null, prefixes: ['/own/'] } }), ['/app/'])).toBe(true);
    expect(isProxied('/app/x', t({ proxy: { origin: null, prefixes: [] } }), ['/app/'])).toBe(false);
    expect(isProxied('/app/x', t({ proxy: { origin: null, prefixes: null } }), ['/app/'])).toBe(true);
  });
});

describe('which origin a tenant gets', () => {
  it('prefers the tenant data region\'s origin, then its jurisdiction\'s, then (no residency) any', () => {
    expect(chooseOrigin(t(), ORIGINS)).toMatchObject({ ok: true, origin: { region: 'aws-us-east-2' } });
    // Placement wins over the record's region (a moved tenant).
    expect(chooseOrigin(t({ placement: { region: 'aws-eu-west-1', strategy: 'row', schemaName: null, roleName: null, databaseName: null, connectionSecret: null } }), ORIGINS))
      .toMatchObject({ ok: true, origin: { region: 'aws-eu-west-1' } });
    expect(chooseOrigin(t({ region: 'aws-eu-central-1', residency: 'EU' }), ORIGINS)).toMatchObject({ ok: true, origin: { region: 'aws-eu-west-1' } });
    expect(chooseOrigin(t({ region: 'aws-ap-southeast-1' }), ORIGINS)).toMatchObject({ ok: true, origin: { region: 'aws-eu-west-1' } });
  });

  it('refuses 451 when no origin satisfies the residency, 503 when there is none at all', () => {
    expect(chooseOrigin(t({ region: 'aws-eu-central-1', residency: 'EU' }), { 'aws-us-east-2': ORIGINS['aws-us-east-2'] }))
      .toEqual({ ok: false, status: 451, code: 'RESIDENCY_VIOLATION', message: "no origin satisfies the tenant's EU residency" });
    expect(chooseOrigin(t({ residency: 'UK' }), ORIGINS)).toMatchObject({ ok: false, status: 451 });
    expect(chooseOrigin(t(), {})).toMatchObject({ ok: false, status: 503, code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('uses the tenant\'s own origin, refused 451 when outside its jurisdiction, 503 when malformed', () => {
    const own = (u: string, region: string, residency: string | null = null) => chooseOrigin(t({ residency, proxy: { origin: { url: u, region }, prefixes: null } }), ORIGINS);
    expect(own('https://mine.example.com', 'aws-eu-central-1')).toMatchObject({ ok: true, origin: { region: 'aws-eu-central-1', target: { id: 'https://mine.example.com' } } });
    expect(own('https://mine.example.com', 'aws-us-east-2', 'EU')).toMatchObject({ ok: false, status: 451, code: 'RESIDENCY_VIOLATION' });
    expect(own('https://mine.example.com', 'mars-1')).toMatchObject({ ok: false, status: 451 });
    expect(own('ftp://mine.example.com', 'aws-us-east-2')).toMatchObject({ ok: false, status: 503 });
    // A service binding only when ORIGINS uses it in the tenant's jurisdiction (this tenant: US).
    const svc = { ...ORIGINS, 'aws-us-west-2': { kind: 'service', id: 'service:MINE', binding: 'MINE' } as OriginTarget };
    const ownSvc = (origins: Record<string, OriginTarget>) => chooseOrigin(t({ proxy: { origin: { url: 'service:MINE', region: 'aws-us-east-2' }, prefixes: null } }), origins);
    expect(ownSvc(svc)).toMatchObject({ ok: true, origin: { target: { kind: 'service', binding: 'MINE', id: 'service:MINE' } } });
    expect(ownSvc(ORIGINS)).toMatchObject({ ok: false, status: 503 });
    // Records that point into the platform's network are refused even when stored (503, never fetched).
    for (const u of ['http://mine.example.com', 'https://10.0.0.1', 'https://127.0.0.1', 'https://[::1]', 'https://localhost', 'https://db.internal',
      'https://printer.local', 'https://intranet', 'https://mine.example.com:6379', 'https://com']) {
      expect(own(u, 'aws-us-east-2'), u).toMatchObject({ ok: false, status: 503 });
    }
    // The loopback exception only where configured.
    const loop = chooseOrigin(t({ proxy: { origin: { url: 'http://127.0.0.1:9999', region: 'aws-us-east-2' }, prefixes: null } }), ORIGINS, { allowLoopback: true });
    expect(loop).toMatchObject({ ok: true });
  });

  it('keeps the request\'s path and query under the origin\'s base path', () => {
    expect(upstreamUrl(ORIGINS['aws-eu-west-1'], new URL('http://acme.localhost/app/x?y=1'))).toBe('https://eu.origin.test/base/app/x?y=1');
    expect(upstreamUrl(ORIGINS['aws-us-east-2'], new URL('http://acme.localhost/app/'))).toBe('https://us.origin.test/app/');
  });
});

describe('headers across the proxy', () => {
  it('drops hop-by-hop, Connection-listed, Proxy-*, X-Tenant*, Authorization and client forwarding headers', () => {
    const h = requestHeaders(new Headers({
      connection: 'keep-alive, x-secret', 'keep-alive': 'timeout=5', 'x-secret': '1', te: 'trailers', trailer: 'x', upgrade: 'websocket',
      'proxy-authorization': 'Basic x', 'proxy-connection': 'close', 'x-tenant': 'other', 'X-Tenant-Id': 'x', 'x-tenant-context': 'forged',
      authorization: 'Bearer t', host: 'acme.localhost', forwarded: 'for=1.2.3.4', 'x-forwarded-for': '1.2.3.4', 'x-forwarded-host': 'evil',
      'content-type': 'application/json', cookie: 'a=b', traceparent: '00-abc',
    }));
    expect([...h.keys()].sort()).toEqual(['content-type', 'cookie', 'traceparent']);
  });

  it('drops hop-by-hop and X-Tenant* from the origin\'s answer, keeps the rest', () => {
    const h = responseHeaders(new Headers({ connection: 'x-hop', 'x-hop': '1', 'transfer-encoding': 'chunked', 'x-tenant': 'forged', 'cache-control': 'no-store', etag: '"1"' }), 'acme.example.com');
    expect([...h.keys()].sort()).toEqual(['cache-control', 'etag']);
  });
});

describe('cookie scope and path checks', () => {
  it('keeps a Domain only when it is the request host', () => {
    expect(scopeCookie('a=1; Domain=example.com; Path=/', 'acme.example.com')).toBe('a=1; Path=/');
    expect(scopeCookie('a=1; Domain=acme.example.com', 'acme.example.com:8787')).toBe('a=1; Domain=acme.example.com');
    expect(scopeCookie('a=1; domain=other.com', 'acme.example.com')).toBe('a=1');
    expect(scopeCookie('a=1', 'acme.example.com')).toBe('a=1');
  });

  it('refuses encoded separators and dot segments that appear after decoding', () => {
    expect(badPath('/app/a%2fb')).not.toBeNull();
    expect(badPath('/app/a%5Cb')).not.toBeNull();
    expect(badPath('/app/%2e%2e/x')).toBe('dot segment in the path');
    expect(badPath('/app/.%2E/x')).toBe('dot segment in the path');
    expect(badPath('/app/%E0%A4%A')).not.toBeNull();
    expect(badPath('/app/a%20b/c.d')).toBeNull();
  });
});

describe('configuration', () => {
  const JWK = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' };
  const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

  it('reads a JWK, a ring of base64url JWKs, and refuses public keys or other curves without echoing them', () => {
    const one = parseSigningKeys(JSON.stringify({ ...JWK, kid: 'ctx1' }));
    expect(one.ok && one.ring.current).toBe('ctx1');
    const ring = parseSigningKeys(`k2:${b64(JWK)},k1:${b64(JWK)}`);
    expect(ring.ok && [...ring.ring.keys.keys()]).toEqual(['k2', 'k1']);
    const pub = parseSigningKeys(`k1:${b64({ ...JWK, d: undefined })}`);
    expect(pub).toEqual({ ok: false, error: 'the key must be a private key (no "d") (expected base64url of a private JWK)' });
    const rsa = parseSigningKeys(JSON.stringify({ kty: 'RSA', n: 'x', e: 'AQAB', d: 'secretvalue' }));
    expect(rsa).toEqual({ ok: false, error: 'must be an EC P-256 key (ES256)' });
    const junk = parseSigningKeys('k1:notbase64json');
    expect(junk.ok).toBe(false);
    expect(JSON.stringify(junk)).not.toContain('notbase64json');
  });

  const base = env as unknown as Env;
  const config = (vars: Partial<Env>) => () => parseConfig({ ...base, ...vars });

  it('refuses unknown regions, bad origins and prefixes, and proxy mode without a signing key', () => {
    expect(config({ ORIGINS: '{"mars-1":"https://o.test"}' })).toThrow(/ORIGINS: mars-1 is not a known region/);
    expect(config({ ORIGINS: '{"aws-us-east-2":"https://u:p@o.test"}' })).toThrow(/ORIGINS: aws-us-east-2 must have no query, fragment or credentials/);
    expect(config({ ORIGINS: '[1]' })).toThrow(/ORIGINS: must be a JSON object/);
    expect(config({ PROXY_PREFIXES: '/app/,app2' })).toThrow(/PROXY_PREFIXES: entry 2 must be a path starting with \//);
    expect(config({ ORIGIN_BREAKER: '5/0/1' })).toThrow(/ORIGIN_BREAKER/);
    expect(config({ CONTEXT_SIGNING_KEY: undefined })).toThrow(/CONTEXT_SIGNING_KEY: is required when ORIGINS or PROXY_PREFIXES is set/);
    expect(config({ CONTEXT_SIGNING_KEY: undefined, ORIGINS: undefined, PROXY_PREFIXES: undefined })).not.toThrow();
  });

  it('refuses an ORIGINS service binding the router does not have', () => {
    const c = parseConfig({ ...base, ORIGINS: '{"aws-us-east-2":"service:APP_US"}' });
    expect(() => proxyServices(c, base)).toThrow(/names service:APP_US, but the router has no such service binding/);
    const s = proxyServices(c, { ...base, APP_US: { fetch: async () => new Response('ok') } });
    expect(s.sender(c.ORIGINS['aws-us-east-2']!)).toBeTypeOf('function');
  });
});
