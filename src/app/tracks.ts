/**
 * The sample tenant application: `/api/v1/tracks`. It knows nothing of tenancy: the pipeline
 * has already bound the database handle to the tenant, its region and its isolation. It uses the
 * three forms of the handle: `query` for one statement, `batch` for an import (every insert and
 * the new total in one round trip, all or nothing), `transaction` for an edit (read the row
 * under a lock, merge, write it back).
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { AppEnv } from '../app-env.js';
import { AppError } from '../errors.js';
import { validate } from './validate.js';
import { methodNotAllowed, requireJson } from './http.js';

interface TrackRow { id: string; title: string; artist: string; duration_ms: number; created_at: Date }

const COLUMNS = 'id, title, artist, duration_ms, created_at';
// Control characters and lone surrogates cannot be stored as text (PostgreSQL refuses NUL and invalid UTF-8): refuse them here.
const text = z.string().trim().min(1).max(200)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters')
  .regex(/^(?:[^\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/, 'must be valid Unicode');
const NewTrack = z.strictObject({ title: text, artist: text, durationMs: z.number().int().positive().max(86_400_000) });
const ImportBody = z.strictObject({ tracks: z.array(NewTrack).min(1).max(50) });
const TrackEdit = NewTrack.partial().refine((e) => Object.keys(e).length > 0, { message: 'nothing to change' });
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) });
const IdParam = z.object({ id: z.uuid({ message: 'id must be a UUID' }) });

const view = (r: TrackRow) => ({
  id: r.id, title: r.title, artist: r.artist, durationMs: r.duration_ms, createdAt: new Date(r.created_at).toISOString(),
});

const INSERT = `INSERT INTO tracks (title, artist, duration_ms) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`;
const jsonBody = () => [requireJson(), bodyLimit({ maxSize: 16 * 1024, onError: () => { throw new AppError(413, 'PAYLOAD_TOO_LARGE', 'request body over 16 KiB'); } })] as const;

const notFound = () => new AppError(404, 'NOT_FOUND', 'track not found');

export const tracks = new Hono<AppEnv>()
  .get('/', validate('query', ListQuery), async (c) => {
    const { limit } = c.req.valid('query');
    const rows = await c.var.db.query<TrackRow>(`SELECT ${COLUMNS} FROM tracks ORDER BY created_at DESC, id LIMIT $1`, [limit]);
    return c.json({ tracks: rows.map(view) });
  })
  .post('/', ...jsonBody(), validate('json', NewTrack), async (c) => {
    const t = c.req.valid('json');
    const [row] = await c.var.db.query<TrackRow>(INSERT, [t.title, t.artist, t.durationMs]);
    return c.json({ track: view(row!) }, 201, { Location: `/api/v1/tracks/${row!.id}` });
  })
  // Several tracks at once: stored together or not at all.
  .post('/import', ...jsonBody(), validate('json', ImportBody), async (c) => {
    const { tracks: items } = c.req.valid('json');
    const results = await c.var.db.batch([
      ...items.map((t) => ({ text: INSERT, params: [t.title, t.artist, t.durationMs] })),
      { text: 'SELECT count(*)::int AS total FROM tracks' },
    ]);
    const total = (results.pop()![0] as { total: number }).total;
    return c.json({ tracks: results.map((rows) => view(rows[0] as unknown as TrackRow)), total }, 201);
  })
  .all('/import', methodNotAllowed(['POST']))
  // Read, merge, write back, with the row locked in between: two edits of different fields both land.
  .patch('/:id', validate('param', IdParam), ...jsonBody(), validate('json', TrackEdit), async (c) => {
    const { id } = c.req.valid('param');
    const edit = c.req.valid('json');
    const row = await c.var.db.transaction(async (tx) => {
      const [old] = await tx.query<TrackRow>(`SELECT ${COLUMNS} FROM tracks WHERE id = $1 FOR UPDATE`, [id]);
      if (!old) throw notFound();
      const next = { title: edit.title ?? old.title, artist: edit.artist ?? old.artist, durationMs: edit.durationMs ?? old.duration_ms };
      const [updated] = await tx.query<TrackRow>(`UPDATE tracks SET title = $2, artist = $3, duration_ms = $4 WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, next.title, next.artist, next.durationMs]);
      return updated!;
    });
    return c.json({ track: view(row) });
  })
  .get('/:id', validate('param', IdParam), async (c) => {
    const [row] = await c.var.db.query<TrackRow>(`SELECT ${COLUMNS} FROM tracks WHERE id = $1`, [c.req.valid('param').id]);
    if (!row) throw notFound();
    return c.json({ track: view(row) });
  })
  .delete('/:id', validate('param', IdParam), async (c) => {
    const rows = await c.var.db.query('DELETE FROM tracks WHERE id = $1 RETURNING id', [c.req.valid('param').id]);
    if (rows.length === 0) throw notFound();
    return c.body(null, 204);
  })
  .all('/', methodNotAllowed(['GET', 'POST']))
  .all('/:id', methodNotAllowed(['GET', 'PATCH', 'DELETE']));
