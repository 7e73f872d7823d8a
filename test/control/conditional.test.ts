/**
 * ETags and conditional requests on tenants: reads carry the version's ETag, If-None-Match is
 * 304, a stale If-Match is 412 with nothing changed (the condition is in the UPDATE/DELETE, so
 * two writers with one ETag cannot both win), and a write answers its new ETag.
 */
import { describe, expect, it } from 'vitest';
import { errorOf, sqlAt, stack } from '../support/helpers.js';
import { admin, createViaApi } from '../support/control.js';

const control = () => sqlAt(stack.control.postgresUrl);
const row = async (id: string) =>
  ((await control().query('SELECT name, version::int AS version, status FROM tenants WHERE id = $1', [id])) as { name: string; version: number; status: string }[])[0];
const patch = (id: string, json: unknown, ifMatch?: string) =>
  admin(`/admin/v1/tenants/${id}`, { method: 'PATCH', json, headers: ifMatch === undefined ? {} : { 'If-Match': ifMatch } });

describe('ETag and If-None-Match', () => {
  it('a read carries the version as its ETag; If-None-Match with it is 304, with another 200', async () => {
    const t = await createViaApi();
    const res = await admin(`/admin/v1/tenants/${t.id}`);
    expect(res.status).toBe(200);
    const etag = res.headers.get('etag');
    expect(etag).toBe(`"v${t.version}"`);
    const same = await admin(`/admin/v1/tenants/${t.slug}`, { headers: { 'If-None-Match': etag! } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect(await same.text()).toBe('');
    expect((await admin(`/admin/v1/tenants/${t.id}`, { headers: { 'If-None-Match': `W/${etag}, "v0"` } })).status).toBe(304);
    const other = await admin(`/admin/v1/tenants/${t.id}`, { headers: { 'If-None-Match': '"v0"' } });
    expect(other.status).toBe(200);
    expect((await other.json() as { id: string }).id).toBe(t.id);
  });
});

describe('If-Match', () => {
  it('PATCH with a stale ETag is 412 PRECONDITION_FAILED and changes nothing; with the current one 200 and the new ETag', async () => {
    const t = await createViaApi();
    const before = await row(t.id);
    const stale = await patch(t.id, { name: 'Stale' }, `"v${before!.version - 1}"`);
    expect(stale.status).toBe(412);
    expect((await errorOf(stale)).code).toBe('PRECONDITION_FAILED');
    expect(await row(t.id)).toEqual(before);
    for (const bad of ['W/"v1"', 'v1', '"v1", "v2"']) {
      expect({ bad, status: (await patch(t.id, { name: 'Bad' }, bad)).status }).toEqual({ bad, status: 412 });
    }
    expect(await row(t.id)).toEqual(before);
    const fresh = await patch(t.id, { name: 'Fresh' }, `"v${before!.version}"`);
    expect(fresh.status).toBe(200);
    const body = await fresh.json() as { name: string; version: number };
    expect(body).toMatchObject({ name: 'Fresh', version: before!.version + 1 });
    expect(fresh.headers.get('etag')).toBe(`"v${before!.version + 1}"`);
    expect(await row(t.id)).toMatchObject({ name: 'Fresh', version: before!.version + 1 });
    // Without If-Match, and with *, writes still work.
    expect((await patch(t.id, { name: 'Anyway' })).status).toBe(200);
    expect((await patch(t.id, { name: 'Star' }, '*')).status).toBe(200);
  });

  it('two PATCHes sent at once with the same ETag: exactly one wins, the other is 412', async () => {
    const t = await createViaApi();
    const etag = (await admin(`/admin/v1/tenants/${t.id}`)).headers.get('etag')!;
    const results = await Promise.all(['First', 'Second', 'Third'].map((name) => patch(t.id, { name }, etag)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412, 412]);
    const winner = await results.find((r) => r.status === 200)!.json() as { name: string };
    expect(await row(t.id)).toMatchObject({ name: winner.name, version: t.version + 1 });
  });

  it('DELETE with a stale ETag is 412 and the tenant stays; with the current one it is deleted', async () => {
    const t = await createViaApi();
    const before = await row(t.id);
    const stale = await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE', headers: { 'If-Match': `"v${before!.version + 5}"` } });
    expect(stale.status).toBe(412);
    expect((await errorOf(stale)).code).toBe('PRECONDITION_FAILED');
    expect(await row(t.id)).toEqual(before);
    const ok = await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE', headers: { 'If-Match': `"v${before!.version}"` } });
    expect(ok.status).toBe(200);
    expect(await row(t.id)).toBeUndefined();
  });
});
