/**
 * A tiny application behind the router, built only on the public entry: it seals a field with
 * `c.var.crypto` and opens it again, and stores a sealed artist in the tenant's `tracks` table,
 * as an application encrypting a column would.
 */
import { Hono } from 'hono';
import { createTenantRouter, type TenantRouterEnv } from 'edge-tenant-router';

const vault = new Hono<TenantRouterEnv>()
  .post('/seal', async (c) => {
    const { field, value } = await c.req.json<{ field: string; value: string }>();
    return c.json({ sealed: await c.var.crypto.seal(field, value) });
  })
  .post('/open', async (c) => {
    const { field, sealed } = await c.req.json<{ field: string; sealed: string }>();
    return c.json({ value: await c.var.crypto.open(field, sealed) });
  })
  .post('/tracks', async (c) => {
    const { title, artist } = await c.req.json<{ title: string; artist: string }>();
    const [row] = await c.var.db.query<{ id: string; artist: string }>(
      'INSERT INTO tracks (title, artist, duration_ms) VALUES ($1, $2, 1000) RETURNING id::text, artist', [title, await c.var.crypto.seal('tracks.artist', artist)]);
    return c.json({ id: row!.id, stored: row!.artist }, 201);
  })
  .get('/tracks', async (c) => {
    const rows = await c.var.db.query<{ id: string; title: string; artist: string }>('SELECT id::text, title, artist FROM tracks ORDER BY created_at');
    return c.json({ tracks: await Promise.all(rows.map(async (r) => ({ ...r, artist: await c.var.crypto.open('tracks.artist', r.artist) }))) });
  });

export const vaultRouter = () => createTenantRouter({ routes: { '/api/v1/vault': vault }, accessLog: null, metrics: false });
