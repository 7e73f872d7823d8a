/**
 * The soak's end-of-run invariants, by direct SQL over every cluster (and Redis, and the objects):
 * no row carries another tenant's marker, no acknowledged write is missing, nothing is left of a
 * deleted tenant, and metering equals what the routers admitted.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import type { SoakTenant, Stack } from './fleet.js';
import { send } from './http.js';
import { runtimeRoleName } from '../../src/provisioning/runtime-role.js';

const UUID_HEX = (id: string) => id.replace(/-/g, '');
const withDb = (url: string, db: string) => { const u = new URL(url); u.pathname = `/${db}`; return u.toString(); };

async function query<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
  await c.connect();
  try { return (await c.query(text, params)).rows as T[]; } finally { await c.end().catch(() => {}); }
}

export interface RowReport { rows: number; tenantsChecked: number; foreign: string[]; lost: string[]; phantom: string[] }

/** Every tracks row of every store, checked against its tenant and against the acknowledged writes. */
export async function checkRows(stack: Stack, live: SoakTenant[], writes: Map<string, { ok: number; uncertain: number }>): Promise<RowReport> {
  const counts = new Map<string, number>();
  const foreign: string[] = [];
  let rows = 0;
  const take = (where: string, owner: string | null, r: { tenant_id: string; title: string }) => {
    rows++;
    const marker = r.title.split(':')[0];
    if (marker !== r.tenant_id || (owner !== null && r.tenant_id !== owner)) foreign.push(`${where}: row of ${r.tenant_id} titled ${r.title.slice(0, 50)}`);
    counts.set(r.tenant_id, (counts.get(r.tenant_id) ?? 0) + 1);
  };
  for (const [region, urls] of Object.entries(stack.regions)) {
    for (const r of await query<{ tenant_id: string; title: string }>(urls.postgresUrl, 'SELECT tenant_id::text, title FROM shared.tracks')) take(`${region} shared`, null, r);
    for (const { nspname } of await query<{ nspname: string }>(urls.postgresUrl, "SELECT nspname FROM pg_namespace WHERE nspname ~ '^t_[0-9a-f]{32}$'")) {
      const owner = toUuid(nspname.slice(2));
      for (const r of await query<{ tenant_id: string; title: string }>(urls.postgresUrl, `SELECT tenant_id::text, title FROM ${nspname}.tracks`)) take(`${region} ${nspname}`, owner, r);
    }
    for (const { datname } of await query<{ datname: string }>(urls.adminUrl, "SELECT datname FROM pg_database WHERE datname ~ '^t_[0-9a-f]{32}$'")) {
      const owner = toUuid(datname.slice(2));
      for (const r of await query<{ tenant_id: string; title: string }>(withDb(urls.adminUrl, datname), 'SELECT tenant_id::text, title FROM public.tracks')) take(`${region} db ${datname}`, owner, r);
    }
  }
  const lost: string[] = [];
  const phantom: string[] = [];
  for (const t of live) {
    const w = writes.get(t.id) ?? { ok: 0, uncertain: 0 };
    const n = counts.get(t.id) ?? 0;
    if (n < w.ok) lost.push(`${t.label}: ${w.ok} writes acknowledged, ${n} rows`);
    if (n > w.ok + w.uncertain) phantom.push(`${t.label}: ${n} rows, ${w.ok} acknowledged + ${w.uncertain} unanswered`);
  }
  return { rows, tenantsChecked: live.length, foreign, lost, phantom };
}

const toUuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** What is left of deleted tenants anywhere: rows, schemas, roles, databases, fences, cache keys, control rows, object storage. */
export async function leftovers(stack: Stack, edge: string, deleted: SoakTenant[]): Promise<string[]> {
  const found: string[] = [];
  if (deleted.length === 0) return found;
  const ids = deleted.map((t) => t.id);
  const idents = ids.map((id) => `t_${UUID_HEX(id)}`);
  // A dedicated database's login role is named by src/provisioning/runtime-role.ts, not t_<id>.
  const runtimeRoles = await Promise.all(ids.map((id) => runtimeRoleName(id)));
  for (const [region, urls] of Object.entries(stack.regions)) {
    const tables = await query<{ s: string; t: string }>(urls.postgresUrl,
      "SELECT table_schema AS s, table_name AS t FROM information_schema.columns WHERE column_name = 'tenant_id' AND table_schema IN ('shared', 'router') AND table_name NOT IN (SELECT table_name FROM information_schema.views)");
    for (const { s, t } of tables) {
      const rows = await query<{ tenant_id: string; n: string }>(urls.postgresUrl, `SELECT tenant_id::text, count(*) AS n FROM ${s}.${t} WHERE tenant_id = ANY($1::uuid[]) GROUP BY 1`, [ids]);
      for (const r of rows) found.push(`${region}: ${r.n} rows of ${r.tenant_id} in ${s}.${t}`);
    }
    for (const r of await query<{ nspname: string }>(urls.postgresUrl, 'SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)', [idents])) found.push(`${region}: schema ${r.nspname}`);
    for (const r of await query<{ rolname: string }>(urls.adminUrl, "SELECT rolname FROM pg_roles WHERE rolname = ANY($1) OR rolname LIKE ANY($2)", [[...idents, ...runtimeRoles], idents.map((i) => `${i}%`)])) found.push(`${region}: role ${r.rolname}`);
    for (const r of await query<{ datname: string }>(urls.adminUrl, 'SELECT datname FROM pg_database WHERE datname = ANY($1)', [idents])) found.push(`${region}: database ${r.datname}`);
  }
  // The control database: every table with a tenant_id, but for what is kept on purpose
  // (usage for billing, the archive row that names whom it bills, the audit log, and the alerts
  // raised about it; its alert telemetry, baselines and snapshots, goes with its purge).
  const keep = new Set(['usage_flushes', 'tenant_usage', 'tenant_archive', 'audit_log', 'alerts']);
  const control = await query<{ t: string }>(stack.control.postgresUrl,
    "SELECT c.table_name AS t FROM information_schema.columns c JOIN information_schema.tables x USING (table_schema, table_name) WHERE c.column_name = 'tenant_id' AND c.table_schema = 'public' AND x.table_type = 'BASE TABLE'");
  for (const { t } of control) {
    if (keep.has(t)) continue;
    for (const r of await query<{ n: string }>(stack.control.postgresUrl, `SELECT count(*) AS n FROM public.${t} WHERE tenant_id::text = ANY($1::text[])`, [ids])) if (Number(r.n) > 0) found.push(`control: ${r.n} rows in ${t}`);
  }
  for (const r of await query<{ n: string }>(stack.control.postgresUrl, 'SELECT count(*) AS n FROM tenants WHERE id = ANY($1::uuid[])', [ids])) if (Number(r.n) > 0) found.push(`control: ${r.n} tenants rows`);
  if (stack.redis) {
    const redis = new Redis({ port: stack.redis.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 2 });
    redis.on('error', () => {});
    await redis.connect();
    try {
      for (const t of deleted) {
        for (const pattern of [`*${t.id}*`]) {
          const keys = await redis.keys(pattern);
          if (keys.length > 0) found.push(`redis: ${keys.join(', ').slice(0, 200)}`);
        }
      }
    } finally { redis.disconnect(); }
  }
  for (const t of deleted) {
    const g = await send(edge, { host: 'soak.localhost', path: `/_soak/guard/${t.id}/stored` });
    const s = JSON.parse(g.body || '{}') as { rows?: number; alarm?: boolean };
    if (g.status !== 200 || s.rows !== 0 || s.alarm) found.push(`TenantGuard of ${t.label}: ${g.body.slice(0, 120)}`);
    if (t.isolation === 'database') {
      const b = await send(edge, { host: 'soak.localhost', path: `/_soak/breaker/${encodeURIComponent(`db:${t.id}`)}/stored` });
      const bs = JSON.parse(b.body || '{}') as { rows?: number };
      if (b.status !== 200 || bs.rows !== 0) found.push(`CircuitBreaker of ${t.label}: ${b.body.slice(0, 120)}`);
    }
  }
  return found;
}

/** Metered units this month per tenant, as the control database has them after the final flush. */
export async function meteredUnits(stack: Stack): Promise<Map<string, number>> {
  const rows = await query<{ tenant_id: string; n: string }>(stack.control.postgresUrl,
    "SELECT tenant_id::text, sum(requests) AS n FROM tenant_usage WHERE month = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM') GROUP BY 1");
  return new Map(rows.map((r) => [r.tenant_id, Number(r.n)]));
}
