/** The admin API: credentials (constant-time secret, scoped admin JWTs of bounded lifetime), body limit, host separation, OpenAPI and its pinned Swagger UI. */
import { importJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, errorOf, idpToken, platformToken, sqlAt, stack } from '../support/helpers.js';
import { admin } from '../support/control.js';

const adminJwt = (scope: string, opts: { audience?: string; idp?: string } = {}) =>
  idpToken(opts.idp ?? 'idp-a', { sub: 'ops@example.com', scope }, { audience: opts.audience ?? 'tenant-control' });

describe('admin credentials', () => {
  it('refuses a missing, wrong or truncated secret with 401 and the error shape', async () => {
    const right = stack.control.adminToken;
    for (const token of [null, 'wrong', right.slice(0, -1), `${right}x`, right.toUpperCase() === right ? `${right}a` : right.toUpperCase()]) {
      const res = await admin('/admin/v1/tenants', { token });
      expect(res.status).toBe(401);
      const e = await errorOf(res);
      expect(['UNAUTHENTICATED', 'INVALID_TOKEN']).toContain(e.code);
      expect(JSON.stringify(e)).not.toContain(right);
    }
  });

  it('accepts an admin JWT: admin:read may read but not write, admin:write may both', async () => {
    const reader = await adminJwt('admin:read');
    expect((await admin('/admin/v1/tiers', { token: reader })).status).toBe(200);
    const refused = await admin('/admin/v1/tiers', { token: reader, method: 'POST', json: { name: 'READER_MADE', from: 'FREE' } });
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).code).toBe('FORBIDDEN');
    const writer = await adminJwt('openid admin:write');
    const made = await admin('/admin/v1/tiers', { token: writer, method: 'POST', json: { name: `W_${Date.now()}`, from: 'FREE' } });
    expect(made.status).toBe(201);
    // The audit names the operator from the token's subject.
    const log = await (await admin('/admin/v1/audit?action=tier.create&limit=1')).json() as { entries: { actor: string }[] };
    expect(log.entries[0]!.actor).toBe('jwt:ops@example.com');
  });

  it('refuses JWTs with the wrong audience, an untrusted issuer, or no admin scope', async () => {
    for (const token of [await adminJwt('admin:write', { audience: 'tenant-router' }), await adminJwt('admin:write', { idp: 'idp-b' }), await adminJwt('profile')]) {
      const res = await admin('/admin/v1/tenants', { token });
      expect([401, 403]).toContain(res.status);
    }
    // A tenant's platform token is no admin credential.
    expect((await admin('/admin/v1/tenants', { token: await platformToken('acme') })).status).toBe(401);
  });
});

describe('admin JWT subject', () => {
  const tierPost = (token: string, key: string, name: string) =>
    admin('/admin/v1/tiers', { token, method: 'POST', json: { name, from: 'FREE' }, headers: { 'Idempotency-Key': key } });

  it('refuses an admin JWT without a subject, or with an empty one, with 401 INVALID_TOKEN (no shared jwt:unknown principal)', async () => {
    for (const claims of [{ scope: 'admin:write' }, { sub: '', scope: 'admin:write' }]) {
      const res = await tierPost(await idpToken('idp-a', claims, { audience: 'tenant-control' }), `k-${crypto.randomUUID()}`, `NOSUB_${Date.now()}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('invalid_token');
      const body = await res.json() as { error: { code: string; message: string; requestId: string } };
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
      expect(body.error.code).toBe('INVALID_TOKEN');
    }
    const rows = await sqlAt(stack.control.postgresUrl).query(`SELECT count(*) AS n FROM idempotency_keys WHERE principal = 'jwt:unknown'`) as { n: string }[];
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('two long subjects sharing their first 100 characters are two principals: one\'s key never replays the other\'s answer', async () => {
    const head = 'o'.repeat(100);
    const key = `k-${crypto.randomUUID()}`;
    const name = `LONGSUB_${Date.now()}`;
    const [a, b] = await Promise.all(['a', 'b'].map((tail) => idpToken('idp-a', { sub: head + tail, scope: 'admin:write' }, { audience: 'tenant-control' })));
    expect((await tierPost(a!, key, name)).status).toBe(201);
    const theirs = await tierPost(b!, key, name);
    // It ran on its own (the name is taken now): no replay of a's 201.
    expect([theirs.status, theirs.headers.get('idempotent-replayed'), (await errorOf(theirs)).code]).toEqual([409, null, 'TEMPLATE_EXISTS']);
    const principals = (await sqlAt(stack.control.postgresUrl).query('SELECT principal FROM idempotency_keys WHERE key = $1 ORDER BY principal', [key]) as { principal: string }[])
      .map((r) => r.principal);
    expect(principals).toHaveLength(2);
    for (const p of principals) expect(p).toMatch(/^jwt:o{36}…sha256:[0-9a-f]{64}$/);
  });
});

describe('admin JWT lifetime', () => {
  const idp = () => stack.jwks.idps['idp-a']!;
  /** An admin:write token of the operators' IdP with exactly the time claims given (seconds from now). */
  async function timed(claims: { iat?: number; exp?: number }) {
    const p = idp();
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ sub: 'ops@example.com', scope: 'admin:write' }).setProtectedHeader({ alg: p.alg, kid: p.kid })
      .setIssuer(p.issuer).setAudience('tenant-control');
    if (claims.iat !== undefined) jwt.setIssuedAt(now + claims.iat);
    if (claims.exp !== undefined) jwt.setExpirationTime(now + claims.exp);
    return jwt.sign(await importJWK(p.privateJwk, p.alg));
  }

  it('requires exp and iat, and refuses a lifetime or an age over the maximum (1 h)', async () => {
    expect((await admin('/admin/v1/tiers', { token: await timed({ iat: 0, exp: 600 }) })).status).toBe(200);
    for (const [what, claims] of [
      ['no exp', { iat: 0 }], ['no iat', { exp: 600 }], ['neither', {}],
      ['a 2 h lifetime', { iat: 0, exp: 7200 }], ['issued 2 h ago', { iat: -7200, exp: 600 }], ['issued in the future', { iat: 600, exp: 1200 }],
    ] as const) {
      const res = await admin('/admin/v1/tiers', { token: await timed(claims) });
      expect({ what, status: res.status }).toEqual({ what, status: 401 });
      expect((await errorOf(res)).code).toBe('INVALID_TOKEN');
    }
  });
});

describe('request bodies', () => {
  it('refuses a body over 1 MiB with 413 PAYLOAD_TOO_LARGE before any route reads it', async () => {
    const name = `BIG_${Date.now()}`;
    const yaml = `apiVersion: tenant-router/v1\nkind: TierTemplates\n# ${'x'.repeat(2 * 1024 * 1024)}\ntemplates: []\n`;
    const res = await admin('/admin/v1/tiers/import', { method: 'POST', body: yaml, headers: { 'content-type': 'text/yaml' } });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
    const big = await admin('/admin/v1/tiers', { method: 'POST', json: { name, from: 'FREE', description: 'd'.repeat(1024 * 1024) } });
    expect(big.status).toBe(413);
    expect((await admin(`/admin/v1/tiers/${name}`)).status).toBe(404);
    // Unauthenticated, the body is never read: 401.
    expect((await admin('/admin/v1/tiers/import', { token: null, method: 'POST', body: yaml })).status).toBe(401);
  });
});

describe('host separation', () => {
  it('the router never serves the admin API on a tenant host', async () => {
    const res = await call('acme.localhost', '/admin/v1/tenants', { token: await platformToken('acme'), headers: { 'x-admin': stack.control.adminToken } });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('NOT_FOUND');
    const withAdmin = await call('acme.localhost', '/admin/v1/tenants', { token: stack.control.adminToken });
    expect(withAdmin.status).toBe(401);
  });

  it('the control worker answers only on its own host names', async () => {
    const url = new URL(stack.control.url);
    const local = await fetch(`http://localhost:${url.port}/admin/v1/tenants?limit=1`, { headers: { authorization: `Bearer ${stack.control.adminToken}` } });
    expect(local.status).toBe(200);
  });
});

describe('OpenAPI', () => {
  it('describes every admin route from the validating schemas, and Swagger UI serves it', async () => {
    const res = await admin('/admin/v1/openapi.json', { token: null });
    expect(res.status).toBe(200);
    const doc = await res.json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { name: string }[] }>>; components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> } };
    expect(doc.openapi).toBe('3.1.0');
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    for (const r of [
      'POST /admin/v1/tenants', 'GET /admin/v1/tenants', 'GET /admin/v1/tenants/{id}', 'PATCH /admin/v1/tenants/{id}', 'DELETE /admin/v1/tenants/{id}',
      'POST /admin/v1/tenants/{id}/suspend', 'POST /admin/v1/tenants/{id}/resume', 'POST /admin/v1/tenants/{id}/provision',
      'GET /admin/v1/tenants/{id}/usage', 'POST /admin/v1/tenants/{id}/migrate', 'POST /admin/v1/tenants/{id}/domains',
      'DELETE /admin/v1/tenants/{id}/domains/{hostname}', 'PUT /admin/v1/tenants/{id}/jwt', 'DELETE /admin/v1/tenants/{id}/jwt',
      'PUT /admin/v1/tenants/{id}/geo', 'GET /admin/v1/tiers', 'POST /admin/v1/tiers', 'GET /admin/v1/tiers/{name}', 'PATCH /admin/v1/tiers/{name}',
      'DELETE /admin/v1/tiers/{name}', 'GET /admin/v1/tiers/export', 'POST /admin/v1/tiers/import', 'GET /admin/v1/audit', 'GET /admin/v1/audit/verify',
      'GET /admin/v1/migrations', 'GET /admin/v1/migrations/status', 'PUT /admin/v1/migrations/{name}',
    ]) expect(routes).toContain(r);
    // The create schema is the validator's: region is required, slug has the validator's pattern.
    const create = doc.components.schemas.CreateTenant!;
    expect(create.required).toEqual(expect.arrayContaining(['slug', 'tier', 'region']));
    expect(JSON.stringify(create.properties!.slug)).toContain('^(?!..--)[a-z][a-z0-9-]{0,38}[a-z0-9]$');
    const ui = await admin('/admin/v1/docs', { token: null });
    expect(ui.status).toBe(200);
    const html = await ui.text();
    expect(html).toContain('swagger-ui');
    expect(html).toContain('/admin/v1/openapi.json');
    // Pinned, integrity-checked assets (test/cli/docs.test.ts checks the hashes against the package),
    // and a policy admitting no other script.
    const tags = html.match(/<(script|link)\b[^>]*\b(src|href)="https:[^>]*>/g) ?? [];
    expect(tags).toHaveLength(2);
    for (const tag of tags) {
      expect(tag).toMatch(/(src|href)="https:\/\/cdn\.jsdelivr\.net\/npm\/swagger-ui-dist@5\.35\.0\//);
      expect(tag).toMatch(/integrity="sha384-[A-Za-z0-9+/]{64}"/);
      expect(tag).toContain('crossorigin="anonymous"');
    }
    const csp = ui.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src https:\/\/cdn\.jsdelivr\.net 'nonce-[A-Za-z0-9+/=]+'(;|$)/);
  });
});
