/**
 * Lists and routing of the admin API: opaque (creation time, id) cursors that page through
 * tenants created in the same instant exactly once, a malformed cursor 400, `limit` bounded,
 * 405 with Allow for a known path's other methods and a JSON 404 for unknown paths.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { errorOf, sqlAt, stack, unique } from '../support/helpers.js';
import { admin } from '../support/control.js';

const control = () => sqlAt(stack.control.postgresUrl);
const TEMPLATE = `PAGE_${unique('').toUpperCase()}`;

afterAll(async () => {
  await control().query('DELETE FROM tenants WHERE tier = $1', [TEMPLATE]);
  await control().query('DELETE FROM tiers WHERE name = $1', [TEMPLATE]);
});

describe('tenant lists', () => {
  it('pages through tenants with one creation time exactly once, in (created_at, id) order', async () => {
    expect((await admin('/admin/v1/tiers', { method: 'POST', json: { name: TEMPLATE, from: 'FREE' } })).status).toBe(201);
    const ids = Array.from({ length: 7 }, () => crypto.randomUUID());
    // One statement: one now(), so every row has the same created_at; ids random, so the id decides the order.
    await control().query(
      `INSERT INTO tenants (id, slug, name, tier, region, isolation, status)
       SELECT id, 'pg-' || substr(replace(id::text, '-', ''), 1, 12), 'paged', $2, 'aws-us-east-2', 'row', 'suspended' FROM unnest($1::uuid[]) AS id`,
      [ids, TEMPLATE]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await admin(`/admin/v1/tenants?tier=${TEMPLATE}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = await res.json() as { tenants: { id: string; createdAt: string }[]; nextCursor: string | null };
      seen.push(...page.tenants.map((t) => t.id));
      cursor = page.nextCursor;
      if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].sort());
  });

  it('refuses a malformed cursor and an out-of-range limit with 400 BAD_REQUEST', async () => {
    const b64 = (s: string) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    for (const cursor of ['not*base64', b64('garbage'), b64(`2026-01-01T00:00:00+00:00|not-a-uuid`), b64(`yesterday|${crypto.randomUUID()}`),
      b64(`2026-13-45T00:00:00+00:00|${crypto.randomUUID()}`), crypto.randomUUID()]) {
      const res = await admin(`/admin/v1/tenants?cursor=${encodeURIComponent(cursor)}`);
      expect({ cursor, status: res.status }).toEqual({ cursor, status: 400 });
      expect((await errorOf(res)).code).toBe('BAD_REQUEST');
    }
    for (const limit of ['0', '501', 'ten']) expect((await admin(`/admin/v1/tenants?limit=${limit}`)).status).toBe(400);
  });
});

describe('routing', () => {
  it('answers another method on a known path 405 METHOD_NOT_ALLOWED with Allow', async () => {
    const cases: [string, string, string[]][] = [
      ['PUT', '/admin/v1/tenants', ['GET', 'HEAD', 'POST']],
      ['DELETE', '/admin/v1/tenants/acme/suspend', ['POST']],
      ['POST', '/admin/v1/audit/verify', ['GET', 'HEAD']],
      ['PATCH', '/admin/v1/migrations/status', ['GET', 'HEAD', 'PUT']],
    ];
    for (const [method, path, allow] of cases) {
      const res = await admin(path, { method });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 405 });
      expect(res.headers.get('allow')!.split(', ').sort()).toEqual(allow);
      expect((await errorOf(res)).code).toBe('METHOD_NOT_ALLOWED');
    }
  });

  it('answers an unknown path 404 NOT_FOUND in the error shape, and a 405 only to an authenticated caller', async () => {
    const res = await admin('/admin/v1/nothing-here');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('NOT_FOUND');
    expect((await admin('/admin/v1/tenants', { method: 'PUT', token: null })).status).toBe(401);
  });
});
