import { describe, expect, it } from 'vitest';
import { call, errorOf, platformToken, postJson, queriesWithParam, sqlAt, stack, tenant, unique } from '../support/helpers.js';

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

async function patchJson(host: string, path: string, body: unknown, token: string): Promise<Response> {
  return call(host, path, { method: 'PATCH', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

describe.each([
  ['acme', 'acme.localhost'],
  ['globex', 'globex.localhost'],
  ['initech', 'initech.test'],
])('batch and transaction routes for %s', (slug, host) => {
  it('imports several tracks in one batch (one HTTP request to the database) and answers the new total', async () => {
    const token = await platformToken(slug);
    const marker = unique('import-');
    const items = [1, 2, 3].map((n) => ({ title: `${marker}-${n}`, artist: 'Batch', durationMs: n * 1000 }));
    const res = await postJson(host, '/api/v1/tracks/import', { tracks: items }, token);
    expect(res.status).toBe(201);
    const body = await res.json() as { tracks: Track[]; total: number };
    expect(body.tracks.map((t) => [t.title, t.durationMs])).toEqual(items.map((t) => [t.title, t.durationMs]));
    expect(body.total).toBeGreaterThanOrEqual(3);
    // Every insert and the count travelled in one request.
    expect((await (await fetch(`${stack.neonEndpoint}/_stats?contains=${marker}`)).json() as { requests: number }).requests).toBe(1);
    for (const t of body.tracks) expect((await call(host, `/api/v1/tracks/${t.id}`, { token })).status).toBe(200);
  });

  it('edits a track in a transaction: changed fields change, the others stay; 404 for an unknown track', async () => {
    const token = await platformToken(slug);
    const created = await postJson(host, '/api/v1/tracks', { title: unique('edit-'), artist: 'Before', durationMs: 1000 }, token);
    const { track } = await created.json() as { track: Track };
    const res = await patchJson(host, `/api/v1/tracks/${track.id}`, { artist: 'After' }, token);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { track: Track }).track).toEqual({ ...track, artist: 'After' });
    expect(((await (await call(host, `/api/v1/tracks/${track.id}`, { token })).json()) as { track: Track }).track.artist).toBe('After');
    const missing = await patchJson(host, `/api/v1/tracks/${crypto.randomUUID()}`, { artist: 'x' }, token);
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe('NOT_FOUND');
  });
});

describe('batch and transaction routes: input and concurrency', () => {
  const host = 'globex.localhost';

  it('refuses an empty or oversized import and an empty edit with 400, storing nothing', async () => {
    const token = await platformToken('globex');
    const marker = unique('bad-import-');
    const many = Array.from({ length: 51 }, (_, n) => ({ title: `${marker}${n}`, artist: 'a', durationMs: 1 }));
    for (const body of [{ tracks: [] }, { tracks: many }, { tracks: [{ title: marker, artist: 'a', durationMs: -1 }] }]) {
      const res = await postJson(host, '/api/v1/tracks/import', body, token);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe('BAD_REQUEST');
    }
    expect(await queriesWithParam(marker)).toBe(0);
    const res = await patchJson(host, `/api/v1/tracks/${crypto.randomUUID()}`, {}, token);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/nothing to change/);
  });

  it('two concurrent edits of different fields both land (the row is locked between read and write)', async () => {
    const token = await platformToken('globex');
    const created = await postJson(host, '/api/v1/tracks', { title: unique('race-'), artist: 'A', durationMs: 1 }, token);
    const { track } = await created.json() as { track: Track };
    const [one, two] = await Promise.all([
      patchJson(host, `/api/v1/tracks/${track.id}`, { artist: 'Edited' }, token),
      patchJson(host, `/api/v1/tracks/${track.id}`, { durationMs: 4242 }, token),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    const now = ((await (await call(host, `/api/v1/tracks/${track.id}`, { token })).json()) as { track: Track }).track;
    expect([now.artist, now.durationMs, now.title]).toEqual(['Edited', 4242, track.title]);
  });
});
