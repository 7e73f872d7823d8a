/**
 * The notes example's routes, written only against the public entry: `c.var.db` is already the
 * tenant's database (its region, its isolation), `c.var.identity` the verified caller.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { methodNotAllowed, requireJson, validate, type TenantRouterEnv } from 'edge-tenant-router';

interface NoteRow { id: string; author: string | null; body: string; created_at: Date }

const COLUMNS = 'id, author, body, created_at';
const NewNote = z.strictObject({ body: z.string().trim().min(1).max(2000).regex(/^[^\u0000]*$/, 'must not contain NUL') });
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });

const view = (r: NoteRow) => ({ id: r.id, author: r.author, body: r.body, createdAt: new Date(r.created_at).toISOString() });

/** `GET /` lists the tenant's newest notes, `POST /` adds one signed by the token's subject. */
export const notes = new Hono<TenantRouterEnv>()
  .get('/', validate('query', ListQuery), async (c) => {
    const rows = await c.var.db.query<NoteRow>(`SELECT ${COLUMNS} FROM notes ORDER BY created_at DESC, id LIMIT $1`, [c.req.valid('query').limit]);
    return c.json({ notes: rows.map(view) });
  })
  .post('/', requireJson(), validate('json', NewNote), async (c) => {
    const [row] = await c.var.db.query<NoteRow>(
      `INSERT INTO notes (author, body) VALUES ($1, $2) RETURNING ${COLUMNS}`, [c.var.identity.subject, c.req.valid('json').body]);
    return c.json({ note: view(row!) }, 201);
  })
  .all('/', methodNotAllowed(['GET', 'POST']));
