/**
 * The database baseline: a bare Hono worker that sends the very transaction the router's
 * `c.var.db.query` sends for `GET /api/v1/tracks` (the isolation setup, then the query, in one
 * SQL-over-HTTP batch through the Neon driver), with no pipeline in front: no tenant lookup, no
 * token, no guard, no breaker. `BENCH_DB_TARGETS` names, per strategy, the tenant and its target
 * as the router would find it (the database tenant's URL sealed, as in its placement).
 */
import { Hono } from 'hono';
import { neon } from '@neondatabase/serverless';
import { useLocalNeonEndpoint } from '../../src/data/neon-config.js';
import { tenantSetup } from '../../src/data/setup.js';
import { importMasterKey, open } from '../../src/crypto/secret-box.js';

interface Target { tenantId: string; url?: string; sealed?: string; schema: string; role: string | null }
interface BareDbEnv { BENCH_DB_TARGETS: string; MASTER_KEY: string; NEON_LOCAL_ENDPOINT: string }

const COLUMNS = 'id, title, artist, duration_ms, created_at';
const opened = new Map<string, Promise<string>>();

export default new Hono<{ Bindings: BareDbEnv }>().get('/db/:strategy', async (c) => {
  useLocalNeonEndpoint(c.env.NEON_LOCAL_ENDPOINT);
  const t = (JSON.parse(c.env.BENCH_DB_TARGETS) as Record<string, Target>)[c.req.param('strategy')];
  if (!t) return c.json({ error: 'unknown strategy' }, 404);
  let url = t.url;
  if (!url) {
    let p = opened.get(t.tenantId);
    if (!p) { p = importMasterKey(c.env.MASTER_KEY).then((k) => open(k, t.sealed!, t.tenantId)); opened.set(t.tenantId, p); }
    url = await p;
  }
  const setup = tenantSetup({ tenantId: t.tenantId, schema: t.schema, role: t.role, check: false, deadline: new Date(Date.now() + 10_000), timeoutMs: 10_000 });
  const sql = neon(url);
  const [, rows] = await sql.transaction([sql.query(setup.text, setup.params), sql.query(`SELECT ${COLUMNS} FROM tracks ORDER BY created_at DESC, id LIMIT $1`, [50])],
    { fetchOptions: { signal: AbortSignal.timeout(10_000) } });
  return c.json({ tracks: rows });
});
