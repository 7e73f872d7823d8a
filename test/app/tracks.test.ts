import { describe, expect, it } from 'vitest';
import { call, errorOf, platformToken, postJson, sqlAt, stack, tenant, unique } from '../support/helpers.js';

type Track = { id: string; title: string; artist: string; durationMs: number; createdAt: string };

describe.each([
  ['acme', 'acme.localhost'],
  ['globex', 'globex.localhost'],
  ['initech', 'initech.test'],
])('tracks API for %s', (slug, host) => {
  it('creates, lists, reads and deletes a track', async () => {
    const token = await platformToken(slug);
    const title = unique('song-');
    const created = await postJson(host, '/api/v1/tracks', { title, artist: 'Artist', durationMs: 201_000 }, token);
    expect(created.status).toBe(201);
    const { track } = await created.json() as { track: Track };
    expect(track).toMatchObject({ title, artist: 'Artist', durationMs: 201_000 });
    expect(created.headers.get('location')).toBe(`/api/v1/tracks/${track.id}`);
    expect(Date.parse(track.createdAt)).toBeGreaterThan(Date.now() - 60_000);

    const list = await call(host, '/api/v1/tracks', { token });
    expect(((await list.json()) as { tracks: Track[] }).tracks.map((t) => t.id)).toContain(track.id);

    const one = await call(host, `/api/v1/tracks/${track.id}`, { token });
    expect(((await one.json()) as { track: Track }).track).toEqual(track);

    const del = await call(host, `/api/v1/tracks/${track.id}`, { token, method: 'DELETE' });
    expect(del.status).toBe(204);
    expect((await call(host, `/api/v1/tracks/${track.id}`, { token })).status).toBe(404);
    expect((await call(host, `/api/v1/tracks/${track.id}`, { token, method: 'DELETE' })).status).toBe(404);
  });
});

describe('tracks API input', () => {
  const host = 'acme.localhost';

  it('stores the row with the tenant id in the shared regional database', async () => {
    const title = unique('stored-');
    const res = await postJson(host, '/api/v1/tracks', { title, artist: 'A', durationMs: 5 }, await platformToken('acme'));
    const { track } = await res.json() as { track: Track };
    const admin = sqlAt(stack.regions['aws-us-east-2']!.postgresUrl);
    const [, rows] = await admin.transaction([
      admin.query("SELECT set_config('app.tenant_id', $1, true)", [tenant('acme').id]),
      admin.query('SELECT tenant_id, title, duration_ms FROM shared.tracks WHERE id = $1', [track.id]),
    ]);
    expect(rows).toEqual([{ tenant_id: tenant('acme').id, title, duration_ms: 5 }]);
  });

  it.each([
    [{ title: '', artist: 'a', durationMs: 1 }, /title/],
    [{ title: 'a', artist: 'a', durationMs: -1 }, /durationMs/],
    [{ title: 'a', artist: 'a', durationMs: 1.5 }, /durationMs/],
    [{ title: 'a', durationMs: 1 }, /artist/],
    [{ title: 'x'.repeat(201), artist: 'a', durationMs: 1 }, /title/],
    [{ title: 'a', artist: 'a', durationMs: 1, tenant_id: '00000000-0000-4000-8000-000000000000' }, /tenant_id|Unrecognized/i],
    [[1, 2], /expected object/i],
  ])('refuses body %j with 400 BAD_REQUEST and stores nothing', async (body, message) => {
    const token = await platformToken('acme');
    const before = ((await (await call(host, '/api/v1/tracks?limit=100', { token })).json()) as { tracks: Track[] }).tracks.length;
    const res = await postJson(host, '/api/v1/tracks', body, token);
    expect(res.status).toBe(400);
    const err = await errorOf(res);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(message);
    const after = ((await (await call(host, '/api/v1/tracks?limit=100', { token })).json()) as { tracks: Track[] }).tracks.length;
    expect(after).toBe(before);
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await call(host, '/api/v1/tracks', { method: 'POST', token: await platformToken('acme'), body: '{"title":', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('BAD_REQUEST');
  });

  it('refuses a body over 16 KiB with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await postJson(host, '/api/v1/tracks', { title: 'a', artist: 'b'.repeat(20_000), durationMs: 1 }, await platformToken('acme'));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a malformed id with 400 and an unknown one with 404', async () => {
    const token = await platformToken('acme');
    const bad = await call(host, "/api/v1/tracks/1'%20OR%201=1", { token });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(/UUID/);
    const missing = await call(host, `/api/v1/tracks/${crypto.randomUUID()}`, { token });
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe('NOT_FOUND');
  });

  it('bounds the list size', async () => {
    const token = await platformToken('acme');
    expect((await call(host, '/api/v1/tracks?limit=1000', { token })).status).toBe(400);
    const res = await call(host, '/api/v1/tracks?limit=1', { token });
    expect(((await res.json()) as { tracks: Track[] }).tracks.length).toBeLessThanOrEqual(1);
  });
});
