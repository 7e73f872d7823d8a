/** tenantctl tenant/domain: the lifecycle through the CLI, checked through the API and Postgres. */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, query, spawnCli, collect, tenantctl } from './support.js';

const stack = inject('stack');

describe('tenantctl tenant create', () => {
  it('creates a PREMIUM tenant that shows active and owns a schema with the tenant tables in its region', async () => {
    const r = await tenantctl('tenant', 'create', 'cli-premium', '--tier', 'PREMIUM', '--region', 'aws-eu-central-1', '--residency', 'EU', '--name', 'CLI Premium');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'slug')).toBe('cli-premium');
    expect(field(r.stdout, 'isolation')).toBe('schema');
    expect(field(r.stdout, 'status')).toBe('active');

    const show = await tenantctl('tenant', 'show', 'cli-premium');
    expect(show.code, show.stderr).toBe(0);
    expect(field(show.stdout, 'status')).toBe('active');
    expect(field(show.stdout, 'name')).toBe('CLI Premium');
    expect(field(show.stdout, 'residency')).toBe('EU');

    const json = await tenantctl('tenant', 'show', 'cli-premium', '--json');
    const t = JSON.parse(json.stdout) as { id: string; placement: { schemaName: string } };
    expect(t.placement.schemaName).toBe(`t_${t.id.replace(/-/g, '')}`);
    const db = stack.regions['aws-eu-central-1']!.postgresUrl;
    expect(await query(db, 'SELECT schema_name FROM information_schema.schemata WHERE schema_name = $1', [t.placement.schemaName])).toHaveLength(1);
    expect(await query(db, "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'tracks'", [t.placement.schemaName])).toHaveLength(1);
    // The other region has no trace of it.
    expect(await query(stack.regions['aws-us-east-2']!.postgresUrl, 'SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [t.placement.schemaName])).toHaveLength(0);
  });

  it('refuses a missing --region as a usage error (exit 2) without calling the API', async () => {
    const before = (await admin(stack, 'GET', '/audit?action=tenant.create&limit=1000')).body.entries.length;
    const r = await tenantctl('tenant', 'create', 'cli-noregion', '--tier', 'FREE');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--region is required/);
    expect(r.stderr).toMatch(/^usage: tenantctl tenant create <slug> --tier T --region R/m);
    expect((await admin(stack, 'GET', '/tenants/cli-noregion')).status).toBe(404);
    expect((await admin(stack, 'GET', '/audit?action=tenant.create&limit=1000')).body.entries.length).toBe(before);
  });

  it('reports the API refusals as "error CODE: message" with exit 1: reserved slug, duplicate slug, unknown region', async () => {
    const reserved = await tenantctl('tenant', 'create', 'admin', '--tier', 'FREE', '--region', 'aws-us-east-2');
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toMatch(/^error SLUG_RESERVED: /m);
    expect(reserved.stdout).toBe('');

    expect((await tenantctl('tenant', 'create', 'cli-dup', '--tier', 'FREE', '--region', 'aws-us-east-2')).code).toBe(0);
    const dup = await tenantctl('tenant', 'create', 'cli-dup', '--tier', 'STANDARD', '--region', 'aws-us-east-2');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^error TENANT_EXISTS: /m);
    expect((await admin(stack, 'GET', '/tenants/cli-dup')).body.tier).toBe('FREE');

    const region = await tenantctl('tenant', 'create', 'cli-nowhere', '--tier', 'FREE', '--region', 'mars-1');
    expect(region.code).toBe(1);
    expect(region.stderr).toMatch(/^error UNKNOWN_REGION: /m);
  });

  it('refuses a bad --isolation choice locally (exit 2)', async () => {
    const r = await tenantctl('tenant', 'create', 'cli-iso', '--tier', 'FREE', '--region', 'aws-us-east-2', '--isolation', 'cluster');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--isolation must be one of row, schema, database/);
  });
});

describe('tenantctl tenant suspend/resume/delete', () => {
  it('suspends, resumes and deletes (only with --confirm repeating the slug)', async () => {
    expect((await tenantctl('tenant', 'create', 'cli-cycle', '--tier', 'STANDARD', '--region', 'aws-us-east-2')).code).toBe(0);

    const suspended = await tenantctl('tenant', 'suspend', 'cli-cycle');
    expect(suspended.code, suspended.stderr).toBe(0);
    expect(field(suspended.stdout, 'status')).toBe('suspended');
    expect((await admin(stack, 'GET', '/tenants/cli-cycle')).body.status).toBe('suspended');

    const again = await tenantctl('tenant', 'suspend', 'cli-cycle');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error INVALID_STATE: tenant is suspended, not active/m);

    const resumed = await tenantctl('tenant', 'resume', 'cli-cycle');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-cycle')).body.status).toBe('active');

    const unconfirmed = await tenantctl('tenant', 'delete', 'cli-cycle');
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toMatch(/^error CONFIRMATION_REQUIRED: .*--confirm/m);
    const wrong = await tenantctl('tenant', 'delete', 'cli-cycle', '--confirm', 'cli-other');
    expect(wrong.code).toBe(1);
    expect((await admin(stack, 'GET', '/tenants/cli-cycle')).status).toBe(200);

    const deleted = await tenantctl('tenant', 'delete', 'cli-cycle', '--confirm', 'cli-cycle');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted cli-cycle \([0-9a-f-]{36}\)$/m);
    // The storage stays fenced for the grace period; the tool says when the purge completes.
    expect(deleted.stdout).toMatch(/^storage purge completes at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m);
    expect((await admin(stack, 'GET', '/tenants/cli-cycle')).status).toBe(404);
    expect(await query(stack.control.postgresUrl, "SELECT 1 FROM tenants WHERE slug = 'cli-cycle'")).toHaveLength(0);

    const gone = await tenantctl('tenant', 'show', 'cli-cycle');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error TENANT_NOT_FOUND: /m);
  });
});

describe('tenantctl domain', () => {
  it('adds and removes a custom domain; a domain of another tenant is refused', async () => {
    expect((await tenantctl('tenant', 'create', 'cli-dom', '--tier', 'STANDARD', '--region', 'aws-us-east-2')).code).toBe(0);
    const added = await tenantctl('domain', 'add', 'cli-dom', 'Shop.CLI-Dom.test');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^added shop\.cli-dom\.test to cli-dom \(pending\)$/m);
    expect((await admin(stack, 'GET', '/tenants/cli-dom')).body.domains).toEqual(['shop.cli-dom.test']);
    expect(await query(stack.control.postgresUrl, "SELECT t.slug FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE hostname = 'shop.cli-dom.test'"))
      .toEqual([{ slug: 'cli-dom' }]);

    const taken = await tenantctl('domain', 'add', 'acme', 'shop.cli-dom.test');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^error DOMAIN_TAKEN: /m);

    const removed = await tenantctl('domain', 'remove', 'cli-dom', 'shop.cli-dom.test');
    expect(removed.code, removed.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-dom')).body.domains).toEqual([]);
    const twice = await tenantctl('domain', 'remove', 'cli-dom', 'shop.cli-dom.test');
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^error NOT_FOUND: /m);
  });
});

describe('tenantctl tenant list', () => {
  it('filters by tier and follows every page with --all', async () => {
    const all = await tenantctl('tenant', 'list', '--tier', 'STANDARD', '--limit', '2', '--all', '--json');
    expect(all.code, all.stderr).toBe(0);
    const listed = (JSON.parse(all.stdout) as { tenants: { slug: string; tier: string }[] }).tenants;
    const api = (await admin(stack, 'GET', '/tenants?tier=STANDARD&limit=500')).body.tenants as { slug: string }[];
    expect(listed.map((t) => t.slug).sort()).toEqual(api.map((t) => t.slug).sort());
    expect(listed.length).toBeGreaterThan(2);
    expect(new Set(listed.map((t) => t.tier))).toEqual(new Set(['STANDARD']));

    const page = await tenantctl('tenant', 'list', '--limit', '2');
    expect(page.code).toBe(0);
    const lines = page.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +SLUG +TIER +REGION +ISOLATION +STATUS +DOMAINS$/);
    expect(lines).toHaveLength(3);
    expect(page.stderr).toMatch(/more tenants/);
  });
});

describe('tenantctl configuration and errors', () => {
  it('prints help (exit 0), and exit 2 for an unknown command or option', async () => {
    const help = await tenantctl('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}migrate +Catalogue/m);
    const sub = await tenantctl('tier', 'import', '--help');
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/^usage: tenantctl tier import <file>/);
    expect((await tenantctl('tenant', 'frobnicate')).code).toBe(2);
    const opt = await tenantctl('tenant', 'list', '--colour');
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/--colour/);
  });

  it('never prints the token, and reports a wrong one and an unreachable control plane as exit 1', async () => {
    const secret = 'not-the-admin-token-7f3a9c';
    const refused = await tenantctl('--token', secret, 'tenant', 'list');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error (UNAUTHENTICATED|INVALID_TOKEN): /m);
    expect(refused.stdout + refused.stderr).not.toContain(secret);

    const unreachable = await collect(spawnCli(['--url', 'http://127.0.0.1:9', '--token', secret, 'tier', 'list'], { stack: false }));
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^error UNREACHABLE: control plane at http:\/\/127\.0\.0\.1:9 did not answer/m);
    expect(unreachable.stderr).not.toContain(secret);
    expect((await tenantctl('tenant', 'list', '--json')).stdout).not.toContain(stack.control.adminToken);
  });
});
