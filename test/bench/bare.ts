/** The baseline: a bare Hono worker answering the same route with no pipeline at all. */
import { Hono } from 'hono';

export default new Hono().get('/api/v1/me', (c) => c.json({ tenant: { slug: 'bare' }, subject: null, via: 'none' }));
