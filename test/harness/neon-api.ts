/**
 * Local stand-in for Neon's management API v2 (`/api/v2`), for the calls NeonProvisioner makes:
 * create, list (search, limit, cursor), get and delete a project, read an operation, and read a
 * connection URI. Bodies have the api-client's types. Creating a project really creates its owner
 * role and its database on the PostgreSQL cluster of `region_id`, which the workers reach through
 * the local Neon endpoint by host:port. As on Neon, the owner role (LOGIN, CREATEDB, CREATEROLE)
 * is a member of `neon_superuser` (NOLOGIN, CREATEDB, CREATEROLE, BYPASSRLS) and owns the
 * database, so it is no role to serve tenants through. Deleting a project drops its database, its
 * owner and the roles the owner created (on Neon they live in the project's branch). Operations
 * report `running` until polled `operationPolls` times or `operationMs` have passed.
 * Differences from Neon, forced by one shared cluster per region: role and database names must be
 * `t_<32 hex>` (they are interpolated into DDL) and unique per cluster, there is no pooler, and
 * URIs carry no `sslmode` since the local clusters have no TLS.
 * Organisations: the key is a personal API key whose user belongs to one organisation (`orgId`,
 * `org-<word>-<word>-<8 digits>` like Neon's). As on Neon, `org_id` (create body, list query) puts a
 * project in, or lists the projects of, that organisation, and without it the user's personal
 * projects; an org id matching Neon's pattern (`^[a-z0-9-]{1,60}$`) but not the user's is answered
 * 404 `organization not found` and a malformed one 400 (the status for an unknown org is not in
 * Neon's published description: the stand-in answers as for any resource the key cannot see).
 * One project per region is seeded in the organisation at start (`regionProjects`): the region's
 * shared project, whose database is the cluster's `app` (made by the bootstrap, not here);
 * deleting a seeded project forgets it but drops nothing, since its database is the shared one.
 * Test hooks (no auth): `POST /_test/rate-limit {count, retryAfter?}` answers the next `count`
 * API requests 429; `POST /_test/fail-next {path, status, method?, count?}` fails matching ones;
 * `POST /_test/fail-operations {count}` makes the next projects' operations fail;
 * `GET /_test/log` returns every API request with its status.
 */
import type { Branch, ConnectionDetails, Database, Endpoint, EndpointType, Operation, OperationAction, OperationStatus, Project, ProjectListItem, Role } from '@neondatabase/api-client';
import { randomBytes, randomUUID } from 'node:crypto';
import { passwordClause, scramVerifier } from '../../src/crypto/scram.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { readBody } from './http-util.js';
import { listen } from './ports.js';

export interface NeonApiCluster { host: string; port: number; adminUrl(db: string): string }
export interface NeonApiOptions {
  clusters: Record<string, NeonApiCluster>;
  apiKey: string;
  /** Polls after which an operation is finished (default 2). */
  operationPolls?: number;
  /** Age after which an operation is finished whatever the polls (default 3000 ms). */
  operationMs?: number;
  /** The organisation the key's user belongs to (default: a generated Neon-like id). */
  orgId?: string;
}
export interface LogEntry { seq: number; method: string; path: string; query: string; status: number; operationStatus?: string }
export interface NeonApi {
  url: string;
  apiKey: string;
  /** The one organisation the key may use. */
  orgId: string;
  /** Region → id of its seeded shared project (in `orgId`). */
  regionProjects: Record<string, string>;
  close(): Promise<void>;
}

interface ProjectState {
  project: Omit<Project, 'data_storage_bytes_hour' | 'data_transfer_bytes' | 'written_data_bytes' | 'compute_time_seconds' | 'active_time_seconds' | 'cpu_used_sec' | 'consumption_period_start' | 'consumption_period_end'>;
  branch: Branch;
  endpoint: Endpoint;
  role: Role & { password: string };
  database: Database;
  operations: Map<string, { op: Operation; polls: number; born: number; fail: boolean }>;
  cluster: NeonApiCluster;
  /** A region's shared project seeded at start: its database is not the stand-in's to drop. */
  seeded?: boolean;
}
type Reply = [status: number, body: unknown, headers?: Record<string, string>];
interface FailRule { method?: string; path: string; status: number; count: number }

const API = '/api/v2';
const IDENT = /^t_[0-9a-f]{32}$/;
const ORG_ID = /^[a-z0-9-]{1,60}$/;
const PG_VERSIONS = new Set([14, 15, 16, 17, 18]);
const WORDS = ['autumn', 'billowing', 'cool', 'damp', 'empty', 'frosty', 'green', 'hidden', 'misty', 'quiet', 'snowy', 'wild'];
const NOUNS = ['bar', 'bird', 'brook', 'cloud', 'dew', 'field', 'forest', 'lake', 'leaf', 'moon', 'river', 'sun'];

/** Starts the stand-in on a free loopback port; `url` ends in `/api/v2`. */
export async function startNeonApi(opts: NeonApiOptions): Promise<NeonApi> {
  const projects = new Map<string, ProjectState>();
  const log: LogEntry[] = [];
  let rateLimited = { count: 0, retryAfter: '1' as string | null };
  let failRules: FailRule[] = [];
  let failOperations = 0;
  const opPolls = opts.operationPolls ?? 2;
  const opMs = opts.operationMs ?? 3000;
  const orgId = opts.orgId ?? `org-${pick(WORDS)}-${pick(NOUNS)}-${String(randomBytes(4).readUInt32BE(0) % 100_000_000).padStart(8, '0')}`;
  const regionProjects: Record<string, string> = {};
  for (const [region, cluster] of Object.entries(opts.clusters)) {
    const p = newProject(region, cluster, `shared-${region}`, 17, 'postgres', 'app', '', orgId);
    p.seeded = true;
    projects.set(p.project.id, p);
    regionProjects[region] = p.project.id;
  }

  /** Null when `org` (absent: the personal account) is the user's, else Neon's refusal. */
  function orgRefusal(org: unknown): Reply | null {
    if (org === undefined || org === null) return null;
    if (typeof org !== 'string' || !ORG_ID.test(org)) return [400, error('org_id must match ^[a-z0-9-]{1,60}$', 'BAD_REQUEST')];
    return org === orgId ? null : [404, error('organization not found', 'NOT_FOUND')];
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, error(String(err), 'INTERNAL')));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_test/')) return testHook(method, url.pathname, req, res);
    const path = url.pathname.startsWith(`${API}/`) ? url.pathname.slice(API.length) : url.pathname;
    const entry: LogEntry = { seq: log.length + 1, method, path, query: url.search, status: 0 };
    log.push(entry);
    let reply: Reply;
    try {
      reply = !url.pathname.startsWith(`${API}/`) ? [404, error('not found', 'NOT_FOUND')]
        : gate(req, method, path) ?? await route(req, method, path, url.searchParams, entry);
    } catch (err) {
      reply = [500, error(String(err), 'INTERNAL')];
    }
    entry.status = reply[0];
    send(res, ...reply);
  }

  /** What Neon's gateway answers before the API sees the request: auth, rate limit, injected failures. */
  function gate(req: IncomingMessage, method: string, path: string): Reply | null {
    if (req.headers.authorization !== `Bearer ${opts.apiKey}`) return [401, error('authentication required', 'UNAUTHORIZED')];
    if (rateLimited.count > 0) {
      rateLimited.count--;
      return [429, error('too many requests', 'TOO_MANY_REQUESTS'), rateLimited.retryAfter === null ? {} : { 'retry-after': rateLimited.retryAfter }];
    }
    const rule = failRules.find((r) => r.path === path && (!r.method || r.method === method));
    if (!rule) return null;
    if (--rule.count <= 0) failRules = failRules.filter((r) => r !== rule);
    return [rule.status, error(`injected failure ${rule.status}`, 'INJECTED'), rule.status === 429 || rule.status === 423 ? { 'retry-after': '0' } : {}];
  }

  async function route(req: IncomingMessage, method: string, path: string, q: URLSearchParams, entry: LogEntry): Promise<Reply> {
    let m: RegExpExecArray | null;
    if (path === '/projects') {
      if (method === 'GET') return listProjects(q);
      if (method === 'POST') return createProject(await readBody(req));
      return [405, error('method not allowed', 'METHOD_NOT_ALLOWED')];
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})$/.exec(path))) {
      const p = projects.get(m[1]!);
      if (!p) return [404, error('project not found', 'NOT_FOUND')];
      if (method === 'GET') return [200, { project: fullProject(p) }];
      if (method === 'DELETE') return deleteProject(p);
      return [405, error('method not allowed', 'METHOD_NOT_ALLOWED')];
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})\/operations\/([0-9a-f-]{36})$/.exec(path)) && method === 'GET') {
      const state = projects.get(m[1]!)?.operations.get(m[2]!);
      if (!state) return [404, error('operation not found', 'NOT_FOUND')];
      const op = advance(state);
      entry.operationStatus = op.status;
      return [200, { operation: op }];
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})\/connection_uri$/.exec(path)) && method === 'GET') {
      const p = projects.get(m[1]!);
      if (!p) return [404, error('project not found', 'NOT_FOUND')];
      if (!q.get('database_name') || !q.get('role_name')) return [400, error('database_name and role_name are required', 'BAD_REQUEST')];
      if (q.get('database_name') !== p.database.name) return [404, error('database not found', 'NOT_FOUND')];
      if (q.get('role_name') !== p.role.name) return [404, error('role not found', 'NOT_FOUND')];
      return [200, { uri: connection(p).connection_uri }];
    }
    return [404, error('not found', 'NOT_FOUND')];
  }

  function listProjects(q: URLSearchParams): Reply {
    const limit = Number(q.get('limit') ?? 10);
    if (!Number.isInteger(limit) || limit < 1 || limit > 400) return [400, error('limit must be between 1 and 400', 'BAD_REQUEST')];
    const search = q.get('search')?.toLowerCase() ?? '';
    const org = q.get('org_id') ?? undefined;
    const refused = orgRefusal(org);
    if (refused) return refused;
    let all = [...projects.values()].filter((p) => p.project.org_id === org)
      .filter((p) => !search || p.project.name.toLowerCase().includes(search) || p.project.id.includes(search));
    const cursor = q.get('cursor');
    // A cursor is the id of the last project of the previous page; an unknown one ends the list.
    if (cursor) { const at = all.findIndex((p) => p.project.id === cursor); all = at < 0 ? [] : all.slice(at + 1); }
    const page = all.slice(0, limit).map(listItem);
    return [200, { projects: page, pagination: { cursor: page.at(-1)?.id ?? cursor ?? '' }, applications: {}, integrations: {} }];
  }

  async function createProject(raw: string): Promise<Reply> {
    let body: { project?: { name?: unknown; region_id?: unknown; pg_version?: unknown; org_id?: unknown; branch?: { database_name?: unknown; role_name?: unknown } } };
    try { body = JSON.parse(raw) as typeof body; } catch { return [400, error('request body is not valid JSON', 'BAD_REQUEST')]; }
    const spec = body.project;
    if (!spec || typeof spec !== 'object') return [400, error('project is required', 'BAD_REQUEST')];
    const refused = orgRefusal(spec.org_id);
    if (refused) return refused;
    const regionId = spec.region_id ?? 'aws-us-east-2';
    const cluster = typeof regionId === 'string' ? opts.clusters[regionId] : undefined;
    if (!cluster) return [400, error(`region ${String(regionId)} is not supported`, 'BAD_REQUEST')];
    const pgVersion = spec.pg_version ?? 17;
    if (typeof pgVersion !== 'number' || !PG_VERSIONS.has(pgVersion)) return [400, error('unsupported pg_version', 'BAD_REQUEST')];
    const dbName = spec.branch?.database_name ?? `t_${randomBytes(16).toString('hex')}`;
    const roleName = spec.branch?.role_name ?? `t_${randomBytes(16).toString('hex')}`;
    if (typeof dbName !== 'string' || typeof roleName !== 'string' || !IDENT.test(dbName) || !IDENT.test(roleName)) {
      return [400, error('the local stand-in accepts only t_<32 hex> role and database names', 'BAD_REQUEST')];
    }
    if (spec.name !== undefined && (typeof spec.name !== 'string' || spec.name.length > 256)) return [400, error('invalid project name', 'BAD_REQUEST')];
    const password = `npg_${randomBytes(12).toString('hex')}`;
    try {
      await createStorage(cluster, roleName, dbName, password);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '42710' || code === '42P04') return [409, error(`role or database ${dbName} already exists on the local cluster`, 'CONFLICT')];
      throw err;
    }
    const p = newProject(regionId as string, cluster, spec.name ?? `${pick(WORDS)}-${pick(NOUNS)}`, pgVersion, roleName, dbName, password, spec.org_id as string | undefined);
    const fail = failOperations > 0;
    if (fail) failOperations--;
    for (const action of ['create_timeline', 'start_compute'] as const) {
      const op = operation(p, action);
      p.operations.set(op.id, { op, polls: 0, born: Date.now(), fail });
    }
    projects.set(p.project.id, p);
    const { password: _pw, ...role } = p.role;
    return [201, {
      project: fullProject(p), connection_uris: [connection(p)], roles: [{ ...role, password }], databases: [p.database],
      operations: [...p.operations.values()].map((s) => s.op), branch: p.branch, endpoints: [p.endpoint],
    }];
  }

  async function deleteProject(p: ProjectState): Promise<Reply> {
    if (p.seeded) { projects.delete(p.project.id); return [200, { project: fullProject(p) }]; }
    await withAdmin(p.cluster, async (c) => {
      // The roles the owner created (with CREATEROLE it administers them) belong to the project too.
      const { rows } = await c.query<{ rolname: string }>(
        `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles o ON o.oid = m.member
          WHERE o.rolname = $1 AND m.admin_option AND r.rolname ~ '^t_[0-9a-f]{32}$'`, [p.role.name]);
      await c.query(`DROP DATABASE IF EXISTS ${p.database.name} WITH (FORCE)`);
      for (const r of rows) await c.query(`DROP ROLE IF EXISTS ${r.rolname}`);
      await c.query(`DROP ROLE IF EXISTS ${p.role.name}`);
    });
    projects.delete(p.project.id);
    return [200, { project: fullProject(p) }];
  }

  function advance(state: { op: Operation; polls: number; born: number; fail: boolean }): Operation {
    state.polls++;
    if (state.op.status === 'scheduling' || state.op.status === 'running') {
      const done = state.polls > opPolls || Date.now() - state.born >= opMs;
      const status = (done ? (state.fail ? 'failed' : 'finished') : 'running') as OperationStatus;
      state.op = { ...state.op, status, updated_at: now(), total_duration_ms: Date.now() - state.born,
        ...(done && state.fail ? { error: 'injected operation failure', failures_count: 1 } : {}) };
    }
    return state.op;
  }

  async function testHook(method: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (method === 'GET' && path === '/_test/log') return send(res, 200, { entries: log });
    if (method !== 'POST') return send(res, 404, error('not found', 'NOT_FOUND'));
    const body = JSON.parse((await readBody(req)) || '{}') as { count?: number; retryAfter?: number | null; path?: string; status?: number; method?: string };
    const count = Math.max(0, Math.trunc(body.count ?? 1));
    if (path === '/_test/rate-limit') {
      rateLimited = { count, retryAfter: body.retryAfter === null ? null : String(body.retryAfter ?? 1) };
    } else if (path === '/_test/fail-next' && typeof body.path === 'string' && typeof body.status === 'number') {
      failRules.push({ path: body.path, status: body.status, method: body.method, count });
    } else if (path === '/_test/fail-operations') {
      failOperations = count;
    } else {
      return send(res, 404, error('not found', 'NOT_FOUND'));
    }
    send(res, 200, { ok: true });
  }

  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}${API}`,
    apiKey: opts.apiKey,
    orgId,
    regionProjects,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** The owner role (a neon_superuser member) and its database, reachable by that role only. Names are validated t_<hex>. */
async function createStorage(cluster: NeonApiCluster, role: string, db: string, password: string): Promise<void> {
  await neonSuperuser(cluster);
  const secret = passwordClause(await scramVerifier(password));
  await withAdmin(cluster, async (c) => {
    await c.query(`CREATE ROLE ${role} LOGIN CREATEDB CREATEROLE IN ROLE neon_superuser ${secret}`);
    try {
      await c.query(`CREATE DATABASE ${db} OWNER ${role}`);
      // The local cluster is shared by every project of its region: keep other roles out.
      await c.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    } catch (err) {
      await c.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
      await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
      throw err;
    }
  });
}

const superusers = new WeakMap<NeonApiCluster, Promise<void>>();

/** Neon's `neon_superuser`, once per cluster: it bypasses row-level security. */
function neonSuperuser(cluster: NeonApiCluster): Promise<void> {
  let made = superusers.get(cluster);
  if (!made) {
    made = withAdmin(cluster, async (c) => {
      const { rowCount } = await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'neon_superuser'");
      if (!rowCount) await c.query('CREATE ROLE neon_superuser NOLOGIN CREATEDB CREATEROLE BYPASSRLS');
    });
    made.catch(() => superusers.delete(cluster));
    superusers.set(cluster, made);
  }
  return made;
}

async function withAdmin<T>(cluster: NeonApiCluster, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: cluster.adminUrl('postgres') });
  await c.connect();
  try { return await fn(c); } finally { await c.end().catch(() => {}); }
}

function newProject(regionId: string, cluster: NeonApiCluster, name: string, pgVersion: number, roleName: string, dbName: string, password: string, orgId?: string): ProjectState {
  const id = `${pick(WORDS)}-${pick(NOUNS)}-${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, '0')}`;
  const branchId = `br-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString('hex')}`;
  const endpointId = `ep-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString('hex')}`;
  const t = now();
  return {
    project: {
      id, platform_id: 'aws', region_id: regionId, name, provisioner: 'k8s-neonvm', pg_version: pgVersion, proxy_host: cluster.host,
      branch_logical_size_limit: 0, branch_logical_size_limit_bytes: -1, store_passwords: true, creation_source: 'console',
      history_retention_seconds: 86400, created_at: t, updated_at: t, owner_id: 'local-owner', settings: {},
      default_endpoint_settings: { autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 0.25, suspend_timeout_seconds: 0 },
      ...(orgId ? { org_id: orgId } : {}),
    },
    branch: {
      id: branchId, project_id: id, name: 'main', current_state: 'init', pending_state: 'ready', state_changed_at: t,
      creation_source: 'console', primary: true, default: true, protected: false, cpu_used_sec: 0, compute_time_seconds: 0,
      active_time_seconds: 0, written_data_bytes: 0, data_transfer_bytes: 0, created_at: t, updated_at: t, init_source: 'parent-data',
    },
    endpoint: {
      host: cluster.host, id: endpointId, project_id: id, branch_id: branchId, autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 0.25, region_id: regionId, type: 'read_write' as EndpointType, current_state: 'init' as Endpoint['current_state'],
      pending_state: 'active' as Endpoint['current_state'], settings: {}, pooler_enabled: false, pooler_mode: 'transaction' as Endpoint['pooler_mode'],
      disabled: false, passwordless_access: false, creation_source: 'console', created_at: t, updated_at: t, proxy_host: cluster.host,
      suspend_timeout_seconds: 0, provisioner: 'k8s-neonvm',
    },
    role: { branch_id: branchId, name: roleName, password, protected: false, created_at: t, updated_at: t },
    database: { id: Math.floor(Math.random() * 1e7), branch_id: branchId, name: dbName, owner_name: roleName, created_at: t, updated_at: t },
    operations: new Map(),
    cluster,
  };
}

function operation(p: ProjectState, action: 'create_timeline' | 'start_compute'): Operation {
  const t = now();
  return {
    id: randomUUID(), project_id: p.project.id, branch_id: p.branch.id,
    ...(action === 'start_compute' ? { endpoint_id: p.endpoint.id } : {}),
    action: action as OperationAction, status: 'scheduling' as OperationStatus, failures_count: 0, created_at: t, updated_at: t, total_duration_ms: 0,
  };
}

function connection(p: ProjectState): ConnectionDetails {
  const { cluster } = p;
  return {
    connection_uri: `postgresql://${p.role.name}:${p.role.password}@${cluster.host}:${cluster.port}/${p.database.name}`,
    connection_parameters: { database: p.database.name, password: p.role.password, role: p.role.name, host: cluster.host, pooler_host: cluster.host },
  };
}

function fullProject(p: ProjectState): Project {
  return { ...p.project, data_storage_bytes_hour: 0, data_transfer_bytes: 0, written_data_bytes: 0, compute_time_seconds: 0,
    active_time_seconds: 0, cpu_used_sec: 0, consumption_period_start: p.project.created_at, consumption_period_end: '0001-01-01T00:00:00Z' };
}

function listItem(p: ProjectState): ProjectListItem {
  const { history_retention_seconds, ...rest } = p.project;
  return { ...rest, history_retention_seconds, active_time: 0, cpu_used_sec: 0 };
}

function error(message: string, code: string): { code: string; message: string; request_id: string } {
  return { request_id: randomUUID(), code, message };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
