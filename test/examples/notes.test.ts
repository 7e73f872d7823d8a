/// <reference types="vite/client" />
/**
 * The notes example (examples/notes/, built only on the public entry) end to end in workerd,
 * through the whole pipeline against the real stack: tenant resolution, authentication, quota
 * with the example's own route weights, isolation between two tenants in one shared table, and
 * the example's per-route fail mode overriding the tier's.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTenantRouter, routerServices, type Env, type RateLimiter } from 'edge-tenant-router';
import { NOTES_OPTIONS, notesRouter } from '../../examples/notes/app.js';
import { notes } from '../../examples/notes/notes.js';
import NOTES_SQL from '../../examples/notes/migrations/0002_notes.sql?raw';
import { withClient } from '../../src/provisioning/pg-client.js';
import { createViaApi, tokenFor, type CreatedTenant } from '../support/control.js';
import { guardFor, meteredBy } from '../support/guards.js';
import { errorOf, platformToken, sqlAt, stack, unique } from '../support/helpers.js';

const REGION = 'aws-us-east-2';
type Note = { id: string; author: string | null; body: string; createdAt: string };
type App = { fetch: (req: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response> };

/** Sends `path` to `app` on `host` as the edge would, and waits for its background work (lease releases). */
async function send(app: App, host: string, path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('host', host);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}${path}`, { ...init, headers }), env as unknown as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
const post = (app: App, host: string, body: unknown, token: string) =>
  send(app, host, '/api/v1/notes', { method: 'POST', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

const app = notesRouter({ accessLog: null });
const hostOf = (t: CreatedTenant) => `${t.slug}.localhost`;
let a: CreatedTenant;
let b: CreatedTenant;

beforeAll(async () => {
  // The example's tenant migration, applied to the region's shared schema as `tenantctl migrate`
  // would (as the owner, so the router's role gets DML through the schema's default privileges),
  // but without a ledger entry: the product's own migration list stays as the other tests expect it.
  await withClient(stack.regions[REGION]!.postgresUrl, async (c) => {
    const { rows } = await c.query<{ t: string | null }>("SELECT to_regclass('shared.notes')::text AS t");
    if (!rows[0]?.t) await c.query(`SET search_path = shared; ${NOTES_SQL}`);
  });
  [a, b] = await Promise.all([createViaApi(), createViaApi()]);
});

describe('notes example: the pipeline in front of an app built on the public entry', () => {
  it('resolves the tenant from the host and authenticates before the app runs', async () => {
    const token = await tokenFor(a.id);
    expect(await errorOf(await send(app, `${unique('nobody-')}.localhost`, '/api/v1/notes', { token }))).toMatchObject({ code: 'TENANT_NOT_FOUND' });
    const anonymous = await send(app, hostOf(a), '/api/v1/notes');
    expect(anonymous.status).toBe(401);
    expect((await errorOf(anonymous)).code).toBe('UNAUTHENTICATED');
    // A's token on B's host.
    const mismatch = await send(app, hostOf(b), '/api/v1/notes', { token });
    expect(mismatch.status).toBe(403);
    expect((await errorOf(mismatch)).code).toBe('TENANT_MISMATCH');
    const ok = await send(app, hostOf(a), '/api/v1/notes', { token });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-tenant')).toBe(a.slug);
    expect(ok.headers.get('ratelimit-limit')).not.toBeNull();
  });

  it('keeps each tenant\'s notes to itself in the one shared table', async () => {
    const [ta, tb] = await Promise.all([tokenFor(a.id), tokenFor(b.id)]);
    const body = unique('note-');
    const created = await post(app, hostOf(a), { body }, ta);
    expect(created.status, await created.clone().text()).toBe(201);
    const { note } = await created.json() as { note: Note };
    expect(note).toMatchObject({ body, author: 'user-1' });

    const mine = await (await send(app, hostOf(a), '/api/v1/notes', { token: ta })).json() as { notes: Note[] };
    expect(mine.notes.map((n) => n.id)).toContain(note.id);
    const theirs = await send(app, hostOf(b), '/api/v1/notes', { token: tb });
    expect(theirs.status).toBe(200);
    expect(((await theirs.json()) as { notes: Note[] }).notes.map((n) => n.body)).not.toContain(body);

    // The row is in the region's shared schema, stamped with A's id by the database itself.
    const rows = await sqlAt(stack.regions[REGION]!.postgresUrl).query('SELECT tenant_id FROM shared.notes WHERE id = $1', [note.id]) as { tenant_id: string }[];
    expect(rows).toEqual([{ tenant_id: a.id }]);
  });

  it('refuses bad input in the one error shape', async () => {
    const token = await tokenFor(a.id);
    const bad = await post(app, hostOf(a), { body: '' }, token);
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).code).toBe('BAD_REQUEST');
    const notJson = await send(app, hostOf(a), '/api/v1/notes', { method: 'POST', token, body: 'body=x' });
    expect(notJson.status).toBe(415);
    const put = await send(app, hostOf(a), '/api/v1/notes', { method: 'PUT', token });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST, HEAD');
  });
});

describe('notes example: route weights', () => {
  it('a note costs the example\'s 5 units to write and 1 to list (the default would be 2 and 1)', async () => {
    const token = await tokenFor(a.id);
    const guard = guardFor(a);
    const before = await meteredBy(guard);
    expect((await post(app, hostOf(a), { body: unique('w-') }, token)).status).toBe(201);
    expect((await send(app, hostOf(a), '/api/v1/notes', { token })).status).toBe(200);
    expect(await meteredBy(guard) - before).toBe(6);
  });

  it('the weight spends the burst: two writes use up a burst of 10 and the third is 429', async () => {
    const t = await createViaApi({ overrides: { ratePerMinute: 60, burst: 10 } });
    const token = await tokenFor(t.id);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(app, hostOf(t), { body: `n${i}` }, token)).status);
    expect(statuses).toEqual([201, 201, 429]);
    const refused = await post(app, hostOf(t), { body: 'again' }, token);
    expect((await errorOf(refused)).code).toBe('RATE_LIMITED');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    const [row] = await sqlAt(stack.regions[REGION]!.postgresUrl).query('SELECT count(*)::int AS n FROM shared.notes WHERE tenant_id = $1', [t.id]) as { n: number }[];
    expect(row!.n).toBe(2);
  });
});

/** The router's services with a quota guard that cannot be reached, as when its Durable Object call throws. */
const unreachable: RateLimiter = { admit: async () => { throw new Error('Durable Object is overloaded'); }, release: async () => {} };
const guardDown = (e: Env) => ({ ...routerServices(e), limiter: unreachable });

describe('notes example: per-route fail modes', () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it('notes fail closed for a tenant whose tier fails open; without the option they would be served', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const token = await tokenFor(a.id);
    expect(a.tier).toBe('STANDARD');
    const closed = await send(notesRouter({ services: guardDown, accessLog: null }), hostOf(a), '/api/v1/notes', { token });
    expect(closed.status).toBe(503);
    expect((await errorOf(closed)).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(closed.headers.get('retry-after')).toBe('1');
    expect(warn.mock.calls.map((c) => String(c[0])).join()).toMatch(/quota_fail_closed/);

    const tierDecides = createTenantRouter({ routes: NOTES_OPTIONS.routes, services: guardDown, accessLog: null });
    const open = await send(tierDecides, hostOf(a), '/api/v1/notes', { token });
    expect(open.status).toBe(200);
    expect(open.headers.get('x-quota-mode')).toBe('fail-open');
  });

  it('a route set open serves a tenant whose tier fails closed (FREE), and only that route', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const token = await platformToken('acme');
    const router = createTenantRouter({
      routes: { '/api/v1/notes': notes, '/api/v1/strict': notes },
      failModes: { '/api/v1/notes': 'open' },
      services: guardDown, accessLog: null,
    });
    const served = await send(router, 'acme.localhost', '/api/v1/notes', { token });
    expect(served.status).toBe(200);
    expect(served.headers.get('x-quota-mode')).toBe('fail-open');
    const refused = await send(router, 'acme.localhost', '/api/v1/strict', { token });
    expect(refused.status).toBe(503);
  });
});
