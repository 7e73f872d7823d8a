/**
 * The admin dashboard in a real headless Chromium (Debian's, driven by playwright-core) against the
 * real control worker and router: the static files and their CSP, sign-in (a wrong token refused
 * with a visible message), the fleet overview, tenant search, a tenant page whose live charts show
 * traffic driven through the router, suspending from the UI (then the router refuses the tenant),
 * keyboard navigation to the main actions with a visible focus, and not one request to a
 * non-localhost origin. Screenshots go to .local/dashboard-screenshots/ (gitignored).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHROMIUM } from '../harness/ensure-chromium.js';
import { signPlatformToken } from '../harness/token.js';
import { admin, ROOT } from '../cli/support.js';

const stack = inject('stack');
const routerUrl = inject('routerUrl');
const SHOTS = resolve(ROOT, '.local/dashboard-screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let profile: string;
let context: BrowserContext;
let page: Page;
const requested: string[] = [];
let tenant: { id: string; slug: string };

/** One request through the router to `slug`'s host (Host header: *.localhost does not resolve here). */
function routerGet(slug: string, path: string, token: string): Promise<{ status: number; body: string }> {
  const u = new URL(routerUrl);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, headers: { host: `${slug}.localhost`, authorization: `Bearer ${token}` }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('router request timed out')));
    req.on('error', fail);
    req.end();
  });
}
const tokenOf = (id: string) => signPlatformToken(stack.platform, id, 3600);
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(tok = stack.control.adminToken) {
  await page.goto(`${stack.control.url}/admin/`);
  await page.getByLabel('Admin token or operator JWT').fill(tok);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  page = context.pages()[0] ?? await context.newPage();
  context.on('request', (r) => { requested.push(r.url()); });
  const created = await admin(stack, 'POST', '/tenants', { slug: `dash-${Date.now().toString(36)}`, tier: 'STANDARD', region: 'aws-us-east-2' });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  tenant = created.body;
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('the admin dashboard', () => {
  it('is served at /admin/ as static files with a strict CSP and no inline script', async () => {
    const res = await fetch(`${stack.control.url}/admin/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/admin/app.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    // The admin API behind it is untouched: still JSON and authenticated.
    const api = await fetch(`${stack.control.url}/admin/v1/tenants`);
    expect(api.status).toBe(401);
    expect((await api.json() as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a wrong token with a visible message, then signs in with the admin token', async () => {
    await signIn('not-the-admin-token');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Sign-in refused');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await shot('signin-refused');
    await signIn();
    await page.getByRole('heading', { name: 'Fleet overview' }).waitFor();
    const count = Number(await page.locator('#stat-tenants').textContent());
    expect(count).toBe(Object.keys(stack.tenants).length + 1);
    expect(await page.getByRole('region', { name: 'Tenants by tier' }).textContent()).toContain('ENTERPRISE');
    expect(await page.getByRole('region', { name: 'Control plane and regions' }).textContent()).toContain('region aws-us-east-2');
    // Kept in this tab's sessionStorage only.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie])).toEqual([1, 0, '']);
    await shot('overview');
  });

  it('lists tenants and searches them', async () => {
    await page.getByRole('link', { name: 'Tenants', exact: true }).click();
    await page.locator('#tenant-table tbody tr').first().waitFor();
    expect(await page.locator('#tenant-table tbody tr').count()).toBe(Object.keys(stack.tenants).length + 1);
    await page.getByLabel('Search tenants').fill('umbrel');
    await expect.poll(() => page.locator('#tenant-table tbody tr').count()).toBe(1);
    expect(await page.locator('#tenant-table tbody tr').first().getAttribute('data-slug')).toBe('umbrella');
    await page.getByLabel('Search tenants').fill('');
    await page.getByLabel('Status').selectOption('suspended');
    await expect.poll(() => page.locator('#tenant-table tbody tr[data-slug="stark"]').count()).toBe(1);
    expect(await page.locator('#tenant-count').textContent()).toMatch(/^1 of \d+ tenants$/);
  });

  it('shows live charts of traffic driven through the router', async () => {
    await page.goto(`${stack.control.url}/admin/#/tenants/${tenant.id}`);
    await page.getByRole('heading', { name: `Tenant ${tenant.slug}` }).waitFor();
    await page.getByLabel('Sample every').selectOption('2');
    const tok = tokenOf(tenant.id);
    // Requests until the dashboard shows them (the router flushes its counts every few seconds).
    let sent = 0;
    await expect.poll(async () => {
      for (let i = 0; i < 5; i++) { expect((await routerGet(tenant.slug, '/api/v1/tracks', tok)).status).toBe(200); sent++; }
      expect((await routerGet(tenant.slug, '/api/v1/tracks', 'not-a-token')).status).toBe(401);
      const requests = Number(await page.locator('#win-requests').textContent());
      return `${requests > 0} ${await page.locator('#refusals').textContent()}`;
    }, { timeout: 45_000, interval: 1000 }).toMatch(/^true .*401 (INVALID_TOKEN|UNAUTHENTICATED)/);
    // A sample between two reads that saw traffic: the rate chart has a point above zero.
    await expect.poll(async () => {
      await routerGet(tenant.slug, '/api/v1/tracks', tok);
      return Number(await page.locator('#chart-rate svg').getAttribute('data-max'));
    }, { timeout: 30_000, interval: 1000 }).toBeGreaterThan(0);
    expect(Number(await page.locator('#chart-rate svg').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#refusals').textContent()).toMatch(/401 (INVALID_TOKEN|UNAUTHENTICATED)/);
    expect(await page.locator('#histogram tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(sent).toBeGreaterThan(0);
    await shot('tenant');
  });

  it('reaches the main actions with the keyboard, with a visible focus', async () => {
    await page.locator('body').focus();
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const reached = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const e = document.activeElement as HTMLElement;
        return { key: e.id || e.textContent?.trim() || e.tagName, outline: getComputedStyle(e).outlineStyle };
      });
      reached.set(f.key, f.outline);
    }
    for (const k of ['Skip to content', 'Overview', 'Tenants', 'Alerts', 'Audit log', 'signout', 'suspend', 'tier-select', 'tier-apply', 'refresh']) {
      expect(reached.has(k), `${k} in ${[...reached.keys()].join(', ')}`).toBe(true);
      expect(reached.get(k)).not.toBe('none');
    }
  });

  it('suspends the tenant from the UI, and the router then refuses it', async () => {
    const tok = tokenOf(tenant.id);
    expect((await routerGet(tenant.slug, '/api/v1/tracks', tok)).status).toBe(200);
    await page.locator('#suspend').focus();
    await page.keyboard.press('Enter');
    await page.locator('#resume').waitFor();
    expect(await page.locator('h1 + p .pill').textContent()).toBe('suspended');
    const row = await admin(stack, 'GET', `/tenants/${tenant.id}`);
    expect(row.body.status).toBe('suspended');
    await expect.poll(async () => {
      const r = await routerGet(tenant.slug, '/api/v1/tracks', tok);
      return `${r.status} ${r.status === 200 ? '' : JSON.parse(r.body).error.code}`;
    }, { timeout: 20_000, interval: 500 }).toBe('503 TENANT_SUSPENDED');
    await page.locator('#resume').click();
    await page.locator('#suspend').waitFor();
    expect((await admin(stack, 'GET', `/tenants/${tenant.id}`)).body.status).toBe('active');
  });

  it('changes the tier from the UI (with If-Match)', async () => {
    await page.getByLabel('Tier', { exact: true }).selectOption('PREMIUM');
    await page.getByRole('button', { name: 'Change tier' }).click();
    await expect.poll(async () => (await admin(stack, 'GET', `/tenants/${tenant.id}`)).body.tier).toBe('PREMIUM');
    // The audit entry is appended as the PATCH answers, just after the change itself.
    await expect.poll(async () => (await admin(stack, 'GET', `/audit?tenant=${tenant.id}&action=tenant.update`)).body.entries.length).toBeGreaterThanOrEqual(1);
  });

  it('shows the open alerts from the alerts API', async () => {
    // An alert as the scheduled rules would have opened it (their own tests drive the traffic).
    const summary = `credential stuffing suspected (${Date.now()})`;
    const db = new pg.Client({ connectionString: stack.control.postgresUrl });
    await db.connect();
    try {
      await db.query(`INSERT INTO alerts (id, dedup_key, rule, scope, severity, state, summary, opened_at, last_seen_at)
                      VALUES (gen_random_uuid(), $1, 'auth_failure_anomaly', 'platform', 'critical', 'open', $2, now(), now())`, [`browser|${summary}`, summary]);
    } finally {
      await db.end();
    }
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    const api = await admin(stack, 'GET', '/alerts?state=open');
    expect(api.status).toBe(200);
    await page.locator('main table').getByText(summary).waitFor();
    expect(await page.locator('#alerts-unavailable').count()).toBe(0);
    await shot('alerts');
  });

  it('lists the audit log and verifies its chain', async () => {
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.locator('main table tbody tr').first().waitFor();
    await page.getByLabel('Action (or prefix)').fill('tenant.suspend');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('main table tbody').textContent()).toContain('tenant.suspend');
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await expect.poll(() => page.locator('#verify-result').textContent()).toMatch(/Chain intact: \d+ entries checked/);
    await shot('audit');
  });

  it('sent no request to any origin but the control plane on localhost', () => {
    expect(requested.length).toBeGreaterThan(10);
    const foreign = requested.filter((u) => !['127.0.0.1', 'localhost'].includes(new URL(u).hostname) && !u.startsWith('data:'));
    expect(foreign).toEqual([]);
  });
});
