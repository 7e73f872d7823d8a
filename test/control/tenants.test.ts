/** /admin/v1/tenants: create (real storage, served at once), validation, list, get, patch, suspend/resume, delete. */
import { describe, expect, it } from 'vitest';
import { call, errorOf, sqlAt, stack, tenant, unique } from '../support/helpers.js';
import { admin, createViaApi, L1_TTL_MS, tokenFor, within, type CreatedTenant } from '../support/control.js';

const schemaExists = async (region: string, schema: string) =>
  ((await sqlAt(stack.regions[region]!.postgresUrl).query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])) as unknown[]).length === 1;
const databaseExists = async (region: string, db: string) =>
  ((await sqlAt(stack.regions[region]!.adminUrl).query('SELECT 1 FROM pg_database WHERE datname = $1', [db])) as unknown[]).length === 1;
const tracksOf = async (t: CreatedTenant) => call(`${t.slug}.localhost`, '/api/v1/tracks', { token: await tokenFor(t.id) });

describe('create', () => {
  it('provisions a schema tenant in its region, never returns a secret, and the router serves it at once', async () => {
    const t = await createViaApi({ tier: 'PREMIUM', region: 'aws-eu-central-1', residency: 'EU', name: 'Neu GmbH' });
    expect(t).toMatchObject({ tier: 'PREMIUM', region: 'aws-eu-central-1', residency: 'EU', isolation: 'schema', status: 'active', name: 'Neu GmbH' });
    const schema = `t_${t.id.replace(/-/g, '')}`;
    expect(t.placement).toEqual({ region: 'aws-eu-central-1', strategy: 'schema', schemaName: schema, databaseName: null, externalRef: null });
    expect(await schemaExists('aws-eu-central-1', schema)).toBe(true);
    expect(await schemaExists('aws-us-east-2', schema)).toBe(false);
    const res = await tracksOf(t);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tenant-region')).toBe('aws-eu-central-1');
    expect(await res.json()).toMatchObject({ tracks: [] });
  });

  it('gives a database tenant its own database, sealed connection string kept out of every response', async () => {
    const t = await createViaApi({ tier: 'ENTERPRISE', region: 'aws-us-east-2' });
    const ident = `t_${t.id.replace(/-/g, '')}`;
    expect(t.isolation).toBe('database');
    expect(await databaseExists('aws-us-east-2', ident)).toBe(true);
    const body = JSON.stringify(await (await admin(`/admin/v1/tenants/${t.id}`)).json());
    expect(body).not.toMatch(/postgres(ql)?:\/\/|connectionSecret|v1\.[A-Za-z0-9_-]{10,}\./);
    const [row] = await sqlAt(stack.control.postgresUrl).query('SELECT connection_secret FROM tenant_placements WHERE tenant_id = $1', [t.id]) as { connection_secret: string }[];
    expect(row!.connection_secret).toMatch(/^v1\./);
    expect((await tracksOf(t)).status).toBe(200);
  });

  it('refuses bad input with a JSON error and creates nothing', async () => {
    const slug = unique('v-');
    const cases: [Record<string, unknown>, number, string][] = [
      [{ slug, tier: 'FREE' }, 400, 'BAD_REQUEST'], // no region: there is no default
      [{ slug: 'Not_A_Label', tier: 'FREE', region: 'aws-us-east-2' }, 400, 'BAD_REQUEST'],
      // ACE labels (punycode and look-alikes: `--` in positions 3-4) are not slugs.
      [{ slug: 'xn--80ak6aa92e', tier: 'FREE', region: 'aws-us-east-2' }, 400, 'BAD_REQUEST'],
      [{ slug: 'ab--cd', tier: 'FREE', region: 'aws-us-east-2' }, 400, 'BAD_REQUEST'],
      [{ slug, tier: 'FREE', region: 'aws-us-east-2', extra: 1 }, 400, 'BAD_REQUEST'],
      [{ slug: 'admin', tier: 'FREE', region: 'aws-us-east-2' }, 422, 'SLUG_RESERVED'],
      [{ slug: 'www', tier: 'FREE', region: 'aws-us-east-2' }, 422, 'SLUG_RESERVED'],
      [{ slug, tier: 'FREE', region: 'aws-us-east-2', residency: 'EU' }, 422, 'RESIDENCY_MISMATCH'],
      [{ slug, tier: 'FREE', region: 'mars-north-1' }, 422, 'UNKNOWN_REGION'],
      [{ slug, tier: 'GOLD', region: 'aws-us-east-2' }, 422, 'TEMPLATE_NOT_FOUND'],
      [{ slug: 'acme', tier: 'FREE', region: 'aws-us-east-2' }, 409, 'TENANT_EXISTS'],
      [{ slug, tier: 'FREE', region: 'aws-us-east-2', domains: ['initech.test'] }, 409, 'DOMAIN_TAKEN'],
      [{ slug, tier: 'FREE', region: 'aws-us-east-2', domains: ['not a host'] }, 400, 'BAD_REQUEST'],
      [{ slug, tier: 'FREE', region: 'aws-us-east-2', geo: { ipAllow: ['300.1.1.1/8'] } }, 400, 'BAD_REQUEST'],
    ];
    for (const [json, status, code] of cases) {
      const res = await admin('/admin/v1/tenants', { method: 'POST', json });
      expect({ json, status: res.status }).toEqual({ json, status });
      expect((await errorOf(res)).code).toBe(code);
    }
    expect((await admin('/admin/v1/tenants', { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    const rows = await sqlAt(stack.control.postgresUrl).query('SELECT 1 FROM tenants WHERE slug = $1', [slug]);
    expect(rows).toHaveLength(0);
    // The database refuses an ACE slug too, whoever writes it.
    await expect(sqlAt(stack.control.postgresUrl).query(
      "INSERT INTO tenants (slug, name, tier, region, isolation) VALUES ('xn--bcher-kva', 'x', 'FREE', 'aws-us-east-2', 'row')")).rejects.toMatchObject({ code: '23514' });
    // The domain that was taken still belongs to its tenant.
    expect((await call('initech.test', '/api/v1/me', { token: await tokenFor(tenant('initech').id) })).status).toBe(200);
  });
});

describe('list and get', () => {
  it('pages with a cursor, without repeats, and filters by tier, region and status', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await admin(`/admin/v1/tenants?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = await res.json() as { tenants: { id: string }[]; nextCursor: string | null };
      expect(page.tenants.length).toBeLessThanOrEqual(3);
      seen.push(...page.tenants.map((t) => t.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const slug of ['acme', 'globex', 'stark']) expect(seen).toContain(tenant(slug).id);

    const eu = await (await admin('/admin/v1/tenants?region=aws-eu-central-1&tier=PREMIUM&limit=500')).json() as { tenants: { slug: string; region: string; tier: string }[] };
    expect(eu.tenants.map((t) => t.slug)).toContain('globex');
    expect(eu.tenants.every((t) => t.region === 'aws-eu-central-1' && t.tier === 'PREMIUM')).toBe(true);
    const suspended = await (await admin('/admin/v1/tenants?status=suspended&limit=500')).json() as { tenants: { slug: string; status: string }[] };
    expect(suspended.tenants.map((t) => t.slug)).toContain('stark');
    expect(suspended.tenants.every((t) => t.status === 'suspended')).toBe(true);
    expect((await errorOf(await admin('/admin/v1/tenants?status=sleeping'))).code).toBe('BAD_REQUEST');
    expect((await admin('/admin/v1/tenants?limit=0')).status).toBe(400);
  });

  it('gets a tenant by id or slug; an unknown one is 404', async () => {
    const byId = await (await admin(`/admin/v1/tenants/${tenant('globex').id}`)).json() as { slug: string; domains: string[] };
    const bySlug = await (await admin('/admin/v1/tenants/globex')).json();
    expect(byId).toEqual(bySlug);
    expect(byId.domains).toEqual(['xn--bcher-kva.test']);
    const res = await admin('/admin/v1/tenants/no-such-tenant');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('TENANT_NOT_FOUND');
  });
});

describe('patch', () => {
  it('changes name, tier and overrides, bumps the version, and the router applies the new limits', async () => {
    const t = await createViaApi();
    const res = await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { name: 'Renamed', tier: 'PREMIUM', overrides: { ratePerMinute: 1200, burst: 7 } } });
    expect(res.status).toBe(200);
    const after = await res.json() as CreatedTenant;
    // PREMIUM is a schema of its own: the data moved there before the tier changed.
    expect(after).toMatchObject({ name: 'Renamed', tier: 'PREMIUM', overrides: { ratePerMinute: 1200, burst: 7 }, isolation: 'schema' });
    expect(after.version).toBeGreaterThan(t.version);
    const ok = await within(L1_TTL_MS + 1500, async () => (await tracksOf(t)).headers.get('ratelimit-limit') === '7');
    expect(ok).not.toBeNull();
    expect((await errorOf(await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { residency: 'EU' } }))).code).toBe('RESIDENCY_MISMATCH');
    expect((await errorOf(await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { overrides: { ratePerMinute: -1 } } }))).code).toBe('BAD_REQUEST');
    expect((await errorOf(await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { region: 'aws-eu-central-1' } }))).code).toBe('BAD_REQUEST');
  });
});

describe('suspend, resume, delete at the edge', () => {
  it('a suspended tenant is refused with 503 TENANT_SUSPENDED within the L1 TTL, and served again after resume', async () => {
    const t = await createViaApi();
    expect((await tracksOf(t)).status).toBe(200); // warm the router's caches
    expect((await admin(`/admin/v1/tenants/${t.slug}/suspend`, { method: 'POST' })).status).toBe(200);
    const elapsed = await within(L1_TTL_MS + 1500, async () => (await tracksOf(t)).status === 503);
    expect(elapsed).not.toBeNull();
    expect(elapsed!).toBeLessThanOrEqual(L1_TTL_MS + 1500);
    const refused = await tracksOf(t);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    expect((await errorOf(refused)).code).toBe('TENANT_SUSPENDED');
    const again = await admin(`/admin/v1/tenants/${t.slug}/suspend`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('INVALID_STATE');
    expect((await admin(`/admin/v1/tenants/${t.slug}/resume`, { method: 'POST' })).status).toBe(200);
    expect(await within(L1_TTL_MS + 1500, async () => (await tracksOf(t)).status === 200)).not.toBeNull();
  });

  it('delete needs the slug as confirmation, removes the storage, archives the tenant, schedules the purge, and the router forgets it', async () => {
    const t = await createViaApi({ tier: 'PREMIUM', domains: [`${unique('del')}.example.org`] });
    const schema = `t_${t.id.replace(/-/g, '')}`;
    expect((await tracksOf(t)).status).toBe(200);
    const unconfirmed = await admin(`/admin/v1/tenants/${t.id}`, { method: 'DELETE' });
    expect(unconfirmed.status).toBe(400);
    expect((await errorOf(unconfirmed)).code).toBe('CONFIRMATION_REQUIRED');
    expect((await admin(`/admin/v1/tenants/${t.id}?confirm=acme`, { method: 'DELETE' })).status).toBe(400);
    expect(await schemaExists('aws-us-east-2', schema)).toBe(true);
    const res = await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const body = await res.json() as { purgeCompletesAt: string };
    expect(body).toEqual({ deleted: true, id: t.id, slug: t.slug, purgeCompletesAt: expect.any(String) });
    // The fence stays for the grace (120 s by default): routers may still hold the tenant until then.
    const due = Date.parse(body.purgeCompletesAt) - Date.now();
    expect(due).toBeGreaterThan(100_000);
    expect(due).toBeLessThan(125_000);
    expect(await schemaExists('aws-us-east-2', schema)).toBe(false);
    expect((await admin(`/admin/v1/tenants/${t.id}`)).status).toBe(404);
    const db = sqlAt(stack.control.postgresUrl);
    const [pending] = await db.query('SELECT slug, placement, due_at FROM pending_unfences WHERE tenant_id = $1', [t.id]) as { slug: string; placement: { strategy: string; schemaName: string }; due_at: string }[];
    expect(pending).toMatchObject({ slug: t.slug, placement: { strategy: 'schema', schemaName: schema } });
    expect(new Date(pending!.due_at).toISOString()).toBe(body.purgeCompletesAt);
    expect(await db.query('SELECT slug, tier, price_cents_month FROM tenant_archive WHERE id = $1', [t.id])).toEqual([{ slug: t.slug, tier: 'PREMIUM', price_cents_month: 19900 }]);
    for (const table of ['tenants', 'tenant_domains', 'tenant_placements']) {
      expect(await db.query(`SELECT 1 FROM ${table} WHERE ${table === 'tenants' ? 'id' : 'tenant_id'} = $1`, [t.id])).toEqual([]);
    }
    expect(await within(L1_TTL_MS + 1500, async () => (await tracksOf(t)).status === 404)).not.toBeNull();
  });

  it('deleting a database tenant drops its database; a row tenant loses its rows and nobody else does', async () => {
    const d = await createViaApi({ tier: 'ENTERPRISE' });
    const ident = `t_${d.id.replace(/-/g, '')}`;
    expect((await admin(`/admin/v1/tenants/${d.id}?confirm=${d.slug}`, { method: 'DELETE' })).status).toBe(200);
    expect(await databaseExists('aws-us-east-2', ident)).toBe(false);

    const r = await createViaApi({ tier: 'FREE', overrides: { ratePerMinute: 6000, burst: 100 } });
    const token = await tokenFor(r.id);
    const post = await call(`${r.slug}.localhost`, '/api/v1/tracks', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Gone', artist: 'Soon', durationMs: 1000 }) });
    expect(post.status).toBe(201);
    const count = async (id: string) => Number(((await sqlAt(stack.regions['aws-us-east-2']!.postgresUrl).query(
      "SELECT set_config('app.tenant_id', $1, false), (SELECT count(*) FROM shared.tracks WHERE tenant_id = $1::uuid) AS n", [id])) as { n: string }[])[0]!.n);
    expect(await count(r.id)).toBe(1);
    const acmeBefore = await count(tenant('acme').id);
    expect((await admin(`/admin/v1/tenants/${r.id}?confirm=${r.slug}`, { method: 'DELETE' })).status).toBe(200);
    expect(await count(r.id)).toBe(0);
    expect(await count(tenant('acme').id)).toBe(acmeBefore);
  });
});

describe('provisioning claims', () => {
  it('concurrent POST …/provision calls: one provisions, the others are 409; a stale claim is taken over', async () => {
    const t = await createViaApi({ tier: 'PREMIUM' });
    const db = sqlAt(stack.control.postgresUrl);
    // As if its provisioning had failed half-way: `provisioning`, no claim (provisioning is idempotent).
    await db.query("UPDATE tenants SET status = 'provisioning', provisioning_since = NULL WHERE id = $1", [t.id]);
    const results = await Promise.all(Array.from({ length: 6 }, () => admin(`/admin/v1/tenants/${t.id}/provision`, { method: 'POST' })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) expect(['PROVISIONING_IN_PROGRESS', 'INVALID_STATE']).toContain((await errorOf(r)).code);
    expect(await db.query('SELECT status, provisioning_since FROM tenants WHERE id = $1', [t.id])).toEqual([{ status: 'active', provisioning_since: null }]);

    await db.query("UPDATE tenants SET status = 'provisioning', provisioning_since = now() WHERE id = $1", [t.id]);
    const busy = await admin(`/admin/v1/tenants/${t.id}/provision`, { method: 'POST' });
    expect(busy.status).toBe(409);
    expect((await errorOf(busy)).code).toBe('PROVISIONING_IN_PROGRESS');
    expect(busy.headers.get('retry-after')).toBe('5');
    // Nor may it be deleted from under the call that holds the claim.
    expect((await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' })).status).toBe(409);
    await db.query("UPDATE tenants SET provisioning_since = now() - interval '11 minutes' WHERE id = $1", [t.id]);
    expect((await admin(`/admin/v1/tenants/${t.id}/provision`, { method: 'POST' })).status).toBe(200);
  });
});
