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
 * `GET /_test/log` returns every API request with its status; `GET /_test/computes` lists the
 * clusters of projects that keep history (project, branch, port, running) and their folders.
 * Branches and point-in-time restore (createProjectBranch, listProjectBranches, getProjectBranch,
 * deleteProjectBranch, restoreProjectBranch, listProjectBranchEndpoints, createProjectEndpoint,
 * connection_uri with `branch_id`): a project created with `history_retention_seconds > 0` gets a
 * PostgreSQL cluster of its own (neon-compute.ts: base backup + WAL archive, recovery to
 * `recovery_target_time`), and each branch with a read_write endpoint its own cluster on its own
 * port (as Neon gives each branch's compute its own host), made reachable through the local Neon
 * endpoint. A restore swaps the data behind the target's endpoint (same host:port: connection
 * strings stay valid) and keeps the previous state as `preserve_under_name`, to which the
 * target's children move. Differences from Neon:
 * - without `history_retention_seconds` in the create body a project keeps no history here (0;
 *   Neon applies the plan's default), lives on the region's shared cluster as before, and cannot
 *   be branched at all (400); a timestamp outside the window is 400 as on Neon;
 * - branching and restoring happen within the request (a second or a few: a recovery); the
 *   operations returned then finish like the others; the project's branch work is serialised
 *   (Neon answers 423 while an operation runs);
 * - no `parent_lsn`/`source_lsn`, no read_only endpoints, no anonymised or schema-only branches;
 * - a branch made at a point in time has no history of its own (branching it at a timestamp is
 *   400); after a restore the restored branch's history starts at the restore (earlier points are
 *   in the preserved branch); Neon keeps both;
 * - a branch at the head of a running branch is a cold copy: the source's compute restarts;
 * - deleted branches are gone at once (Neon keeps them recoverable for 7 days unless hard_delete);
 *   deleting the default branch or one with children is 400 (Neon's status for it is not published);
 * - a restore restarts the target's compute: its open connections are cut, as Neon's are.
 */
import type { Branch, ConnectionDetails, Database, Endpoint, EndpointType, Operation, OperationAction, OperationStatus, Project, ProjectListItem, Role } from '@neondatabase/api-client';
import { randomBytes, randomUUID } from 'node:crypto';
import { passwordClause, scramVerifier } from '../../src/crypto/scram.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { readBody } from './http-util.js';
import { loadComputes, type Compute, type Computes } from './neon-compute.js';
import { freePort, listen } from './ports.js';

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
  /** Folder for the clusters of projects that keep history (neon-compute.ts); without it such projects are refused. */
  computeRoot?: string;
  /** Makes a new compute's host:port reachable through the local Neon endpoint (neon-endpoint.ts). */
  expose?: (hostPort: string) => void;
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

/** A branch of a project with history, its data (a Compute) and its read_write endpoint, if any. */
interface BranchEntry { branch: Branch; endpoint: Endpoint | null; compute: Compute }

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
  /** Projects with history: the folder of their clusters and every branch (the default one included). */
  history?: { key: string; branches: Map<string, BranchEntry> };
  /** Serialises the project's branch operations (Neon answers 423 while one runs; here they queue). */
  lock: Promise<unknown>;
}
type Reply = [status: number, body: unknown, headers?: Record<string, string>];
interface FailRule { method?: string; path: string; status: number; count: number }

const API = '/api/v2';
const IDENT = /^t_[0-9a-f]{32}$/;
const ORG_ID = /^[a-z0-9-]{1,60}$/;
const PG_VERSIONS = new Set([14, 15, 16, 17, 18]);
const BRANCH_ID = /^[a-z0-9-]{1,60}$/;
// Neon's maximum history retention (30 days).
const MAX_RETENTION = 2_592_000;
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
      const branchId = q.get('branch_id');
      if (!branchId || branchId === p.branch.id) return [200, { uri: connection(p).connection_uri }];
      const b = p.history?.branches.get(branchId);
      if (!b) return [404, error('branch not found', 'NOT_FOUND')];
      if (!b.endpoint) return [404, error('the branch has no read_write endpoint', 'NOT_FOUND')];
      // Neon starts a suspended compute on the first connection; here it is started when its URI is asked for.
      await exclusive(p, () => startCompute(p, b));
      return [200, { uri: connection(p, b).connection_uri }];
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})\/branches$/.exec(path))) {
      const p = projects.get(m[1]!);
      if (!p) return [404, error('project not found', 'NOT_FOUND')];
      if (method === 'GET') return [200, { branches: branchesOf(p).map((b) => b.branch), annotations: {}, pagination: {} }];
      if (method === 'POST') return exclusive(p, async () => createBranch(p, await readBody(req)));
      return [405, error('method not allowed', 'METHOD_NOT_ALLOWED')];
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})\/branches\/([a-z0-9-]{1,60})$/.exec(path))) {
      const p = projects.get(m[1]!);
      if (!p) return [404, error('project not found', 'NOT_FOUND')];
      const b = branchesOf(p).find((x) => x.branch.id === m![2]);
      if (method === 'GET') return b ? [200, { branch: b.branch, annotation: undefined }] : [404, error('branch not found', 'NOT_FOUND')];
      if (method === 'DELETE') return b ? exclusive(p, () => deleteBranch(p, b)) : [204, undefined];
      return [405, error('method not allowed', 'METHOD_NOT_ALLOWED')];
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})\/branches\/([a-z0-9-]{1,60})\/restore$/.exec(path)) && method === 'POST') {
      const p = projects.get(m[1]!);
      if (!p) return [404, error('project not found', 'NOT_FOUND')];
      const b = branchesOf(p).find((x) => x.branch.id === m![2]);
      if (!b) return [404, error('branch not found', 'NOT_FOUND')];
      return exclusive(p, async () => restoreBranch(p, b, await readBody(req)));
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})\/branches\/([a-z0-9-]{1,60})\/endpoints$/.exec(path)) && method === 'GET') {
      const p = projects.get(m[1]!);
      if (!p) return [404, error('project not found', 'NOT_FOUND')];
      const b = branchesOf(p).find((x) => x.branch.id === m![2]);
      if (!b) return [404, error('branch not found', 'NOT_FOUND')];
      return [200, { endpoints: b.endpoint ? [b.endpoint] : [] }];
    }
    if ((m = /^\/projects\/([a-z0-9-]{1,60})\/endpoints$/.exec(path)) && method === 'POST') {
      const p = projects.get(m[1]!);
      if (!p) return [404, error('project not found', 'NOT_FOUND')];
      return exclusive(p, async () => createEndpoint(p, await readBody(req)));
    }
    return [404, error('not found', 'NOT_FOUND')];
  }

  let computesP: Promise<Computes> | null = null;
  const computes = (): Promise<Computes> => (computesP ??= loadComputes(opts.computeRoot!));

  /** The project's branches: every one with history, else its only (default) branch. */
  function branchesOf(p: ProjectState): { branch: Branch; endpoint: Endpoint | null; compute?: Compute }[] {
    return p.history ? [...p.history.branches.values()] : [{ branch: p.branch, endpoint: p.endpoint }];
  }

  function exclusive<T>(p: ProjectState, fn: () => Promise<T>): Promise<T> {
    const run = p.lock.then(fn, fn);
    p.lock = run.catch(() => {});
    return run;
  }

  async function startCompute(p: ProjectState, b: BranchEntry): Promise<void> {
    if (b.compute.pg) return;
    await (await computes()).start(p.history!.key, b.compute);
    opts.expose?.(`127.0.0.1:${b.compute.port}`);
  }

  async function createBranch(p: ProjectState, raw: string): Promise<Reply> {
    let body: { branch?: { parent_id?: unknown; name?: unknown; parent_timestamp?: unknown; parent_lsn?: unknown }; endpoints?: { type?: unknown }[] };
    try { body = JSON.parse(raw || '{}') as typeof body; } catch { return [400, error('request body is not valid JSON', 'BAD_REQUEST')]; }
    const spec = body.branch ?? {};
    if (spec.parent_lsn !== undefined) return [400, error('the local stand-in branches at a timestamp or at the head, not at an LSN', 'BAD_REQUEST')];
    if (spec.name !== undefined && (typeof spec.name !== 'string' || spec.name.length < 1 || spec.name.length > 256)) return [400, error('invalid branch name', 'BAD_REQUEST')];
    const endpoints = body.endpoints ?? [];
    if (!Array.isArray(endpoints) || endpoints.some((e) => e?.type !== 'read_write' && e?.type !== 'read_only')) return [400, error('endpoints[].type must be read_write or read_only', 'BAD_REQUEST')];
    if (endpoints.some((e) => e.type === 'read_only')) return [400, error('the local stand-in gives branches read_write endpoints only', 'BAD_REQUEST')];
    if (endpoints.length > 1) return [400, error('a branch supports one read_write endpoint', 'BAD_REQUEST')];
    const parentId = spec.parent_id ?? p.branch.id;
    const parent = typeof parentId === 'string' && BRANCH_ID.test(parentId) ? p.history?.branches.get(parentId) ?? (parentId === p.branch.id ? null : undefined) : undefined;
    if (parent === undefined) return [404, error('parent branch not found', 'NOT_FOUND')];
    let at: Date | null = null;
    if (spec.parent_timestamp !== undefined) {
      const refused = timestampRefusal(p, spec.parent_timestamp, 'parent_timestamp');
      if (refused) return refused;
      at = new Date(spec.parent_timestamp as string);
    }
    if (!p.history || !parent) return [400, error('the local stand-in branches only projects created with history_retention_seconds > 0', 'BAD_REQUEST')];
    const c = await computes();
    let compute: Compute;
    try {
      compute = await c.branch(p.history.key, parent.compute, at, await freePort());
    } catch (err) {
      if (err instanceof RangeError) return [400, error(err.message, 'BAD_REQUEST')];
      throw err;
    }
    const t = now();
    const id = `br-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString('hex')}`;
    const branch: Branch = {
      ...p.branch, id, name: (spec.name as string | undefined) ?? id, parent_id: parent.branch.id, parent_timestamp: at ? at.toISOString() : t,
      current_state: 'ready' as Branch['current_state'], pending_state: undefined, state_changed_at: t, primary: false, default: false,
      created_at: t, updated_at: t, init_source: 'parent-data',
    };
    let endpoint: Endpoint | null = null;
    if (endpoints.length === 1) {
      endpoint = newEndpoint(p, id, compute.port);
      opts.expose?.(`127.0.0.1:${compute.port}`);
    } else {
      // No endpoint asked for: the data is kept, no compute runs.
      await c.stop(compute);
    }
    const entry: BranchEntry = { branch, endpoint, compute };
    p.history.branches.set(id, entry);
    const ops = [operation(p, 'create_branch', id), ...(endpoint ? [operation(p, 'start_compute', id, endpoint.id)] : [])];
    for (const op of ops) p.operations.set(op.id, { op, polls: 0, born: Date.now(), fail: false });
    const { password: _pw, ...role } = p.role;
    return [201, {
      branch, endpoints: endpoint ? [endpoint] : [], operations: ops, roles: [{ ...role, branch_id: id }], databases: [{ ...p.database, branch_id: id }],
      ...(endpoint ? { connection_uris: [connection(p, entry)] } : {}),
    }];
  }

  /** Neon's refusals of a point in time: malformed, in the future, or outside the retention window. */
  function timestampRefusal(p: ProjectState, value: unknown, field: string): Reply | null {
    const t = typeof value === 'string' ? Date.parse(value) : NaN;
    if (!Number.isFinite(t)) return [400, error(`${field} must be an ISO 8601 timestamp`, 'BAD_REQUEST')];
    if (t > Date.now()) return [400, error(`${field} is in the future`, 'BAD_REQUEST')];
    const retention = p.project.history_retention_seconds;
    if (t < Date.now() - retention * 1000) return [400, error(`${field} is outside the project's history retention window (${retention} s)`, 'BAD_REQUEST')];
    return null;
  }

  async function restoreBranch(p: ProjectState, target: { branch: Branch; endpoint: Endpoint | null; compute?: Compute }, raw: string): Promise<Reply> {
    let body: { source_branch_id?: unknown; source_timestamp?: unknown; source_lsn?: unknown; preserve_under_name?: unknown };
    try { body = JSON.parse(raw || '{}') as typeof body; } catch { return [400, error('request body is not valid JSON', 'BAD_REQUEST')]; }
    if (typeof body.source_branch_id !== 'string' || !BRANCH_ID.test(body.source_branch_id)) return [400, error('source_branch_id is required', 'BAD_REQUEST')];
    if (body.source_lsn !== undefined) return [400, error('the local stand-in restores from a timestamp or the head, not an LSN', 'BAD_REQUEST')];
    const same = body.source_branch_id === target.branch.id;
    if (same && body.source_timestamp === undefined) return [400, error('source_timestamp or source_lsn is required when source_branch_id is the branch itself', 'BAD_REQUEST')];
    const preserve = body.preserve_under_name;
    if (preserve !== undefined && (typeof preserve !== 'string' || preserve.length > 256)) return [400, error('invalid preserve_under_name', 'BAD_REQUEST')];
    const children = branchesOf(p).filter((b) => b.branch.parent_id === target.branch.id);
    if ((same || children.length > 0) && !preserve) return [400, error('preserve_under_name is required: the branch has children or is its own source', 'BAD_REQUEST')];
    const source = branchesOf(p).find((b) => b.branch.id === body.source_branch_id);
    if (!source) return [404, error('source branch not found', 'NOT_FOUND')];
    let at: Date | null = null;
    if (body.source_timestamp !== undefined) {
      const refused = timestampRefusal(p, body.source_timestamp, 'source_timestamp');
      if (refused) return refused;
      at = new Date(body.source_timestamp as string);
    }
    if (!p.history || !source.compute || !target.compute) return [400, error('the local stand-in restores only projects created with history_retention_seconds > 0', 'BAD_REQUEST')];
    const c = await computes();
    let previous: Compute;
    try {
      previous = await c.restore(p.history.key, target.compute, source.compute, at);
    } catch (err) {
      if (err instanceof RangeError) return [400, error(err.message, 'BAD_REQUEST')];
      throw err;
    }
    const t = now();
    const ops: Operation[] = [];
    if (preserve) {
      const id = `br-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString('hex')}`;
      const kept: Branch = {
        ...target.branch, id, name: preserve as string, primary: false, default: false, protected: false,
        created_at: t, updated_at: t, state_changed_at: t, current_state: 'ready' as Branch['current_state'], pending_state: undefined,
      };
      if (target.branch.parent_id === undefined) delete kept.parent_id;
      // The children move to the branch that keeps the previous state; the endpoint stays with the restored branch.
      for (const child of children) child.branch.parent_id = id;
      p.history.branches.set(id, { branch: kept, endpoint: null, compute: previous });
      ops.push(operation(p, 'create_branch', id));
    } else {
      await c.discard(previous);
    }
    target.branch.last_reset_at = t;
    target.branch.updated_at = t;
    ops.push(operation(p, 'apply_config', target.branch.id), ...(target.endpoint ? [operation(p, 'start_compute', target.branch.id, target.endpoint.id)] : []));
    for (const op of ops) p.operations.set(op.id, { op, polls: 0, born: Date.now(), fail: false });
    return [200, { branch: target.branch, operations: ops }];
  }

  async function deleteBranch(p: ProjectState, b: { branch: Branch; endpoint: Endpoint | null; compute?: Compute }): Promise<Reply> {
    if (b.branch.default) return [400, error('the default branch cannot be deleted', 'BAD_REQUEST')];
    if (branchesOf(p).some((x) => x.branch.parent_id === b.branch.id)) return [400, error('the branch has children and cannot be deleted', 'BAD_REQUEST')];
    if (!p.history || !b.compute) return [400, error('branch not deletable', 'BAD_REQUEST')];
    p.history.branches.delete(b.branch.id);
    // Neon keeps a deleted branch recoverable for 7 days unless hard_delete; here it goes at once.
    await (await computes()).discard(b.compute);
    const ops = [...(b.endpoint ? [operation(p, 'suspend_compute', b.branch.id, b.endpoint.id)] : []), operation(p, 'delete_timeline', b.branch.id)];
    for (const op of ops) p.operations.set(op.id, { op, polls: 0, born: Date.now(), fail: false });
    return [200, { branch: b.branch, operations: ops }];
  }

  async function createEndpoint(p: ProjectState, raw: string): Promise<Reply> {
    let body: { endpoint?: { branch_id?: unknown; type?: unknown } };
    try { body = JSON.parse(raw || '{}') as typeof body; } catch { return [400, error('request body is not valid JSON', 'BAD_REQUEST')]; }
    const spec = body.endpoint;
    if (!spec || typeof spec.branch_id !== 'string') return [400, error('endpoint.branch_id is required', 'BAD_REQUEST')];
    if (spec.type !== 'read_write') return [400, error('the local stand-in makes read_write endpoints only', 'BAD_REQUEST')];
    const b = p.history?.branches.get(spec.branch_id);
    if (!b) return [spec.branch_id === p.branch.id ? 400 : 404, error(spec.branch_id === p.branch.id ? 'read_write endpoint already exists' : 'branch not found', spec.branch_id === p.branch.id ? 'BAD_REQUEST' : 'NOT_FOUND')];
    if (b.endpoint) return [400, error('read_write endpoint already exists', 'BAD_REQUEST')];
    // A stopped branch's data may carry the port of the endpoint it had; a new endpoint gets a new one.
    b.compute.port = await freePort();
    await startCompute(p, b);
    b.endpoint = newEndpoint(p, b.branch.id, b.compute.port);
    const op = operation(p, 'start_compute', b.branch.id, b.endpoint.id);
    p.operations.set(op.id, { op, polls: 0, born: Date.now(), fail: false });
    return [201, { endpoint: b.endpoint, operations: [op] }];
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
    let body: { project?: { name?: unknown; region_id?: unknown; pg_version?: unknown; org_id?: unknown; history_retention_seconds?: unknown; branch?: { database_name?: unknown; role_name?: unknown } } };
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
    const retention = spec.history_retention_seconds ?? 0;
    if (typeof retention !== 'number' || !Number.isInteger(retention) || retention < 0 || retention > MAX_RETENTION) {
      return [400, error(`history_retention_seconds must be an integer between 0 and ${MAX_RETENTION}`, 'BAD_REQUEST')];
    }
    if (retention > 0 && !opts.computeRoot) return [400, error('this stand-in was started without computeRoot: no project may keep history', 'BAD_REQUEST')];
    const password = `npg_${randomBytes(12).toString('hex')}`;
    // A project that keeps history gets a cluster of its own (neon-compute.ts); the others share the region's.
    let own: { key: string; compute: Compute; cluster: NeonApiCluster } | null = null;
    if (retention > 0) {
      const key = randomBytes(6).toString('hex');
      const compute = await (await computes()).create(key, await freePort());
      own = { key, compute, cluster: clusterOf(compute) };
      opts.expose?.(`${own.cluster.host}:${own.cluster.port}`);
    }
    try {
      await createStorage(own?.cluster ?? cluster, roleName, dbName, password);
    } catch (err) {
      if (own) await (await computes()).remove(own.key, [own.compute]);
      const code = (err as { code?: string }).code;
      if (code === '42710' || code === '42P04') return [409, error(`role or database ${dbName} already exists on the local cluster`, 'CONFLICT')];
      throw err;
    }
    const p = newProject(regionId as string, own?.cluster ?? cluster, spec.name ?? `${pick(WORDS)}-${pick(NOUNS)}`, pgVersion, roleName, dbName, password, spec.org_id as string | undefined, retention);
    if (own) p.history = { key: own.key, branches: new Map([[p.branch.id, { branch: p.branch, endpoint: p.endpoint, compute: own.compute }]]) };
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
    if (p.history) {
      // Every branch's cluster and folder goes with the project.
      projects.delete(p.project.id);
      await exclusive(p, async () => (await computes()).remove(p.history!.key, [...p.history!.branches.values()].map((b) => b.compute)));
      return [200, { project: fullProject(p) }];
    }
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
    if (method === 'GET' && path === '/_test/computes') {
      // Every cluster the stand-in keeps for projects with history: project, branch, port, running.
      const rows = [...projects.values()].flatMap((p) => [...(p.history?.branches.values() ?? [])].map((b) => ({
        projectId: p.project.id, branchId: b.branch.id, name: b.branch.name, port: b.compute.port, running: b.compute.pg !== null, endpoint: b.endpoint?.id ?? null,
      })));
      return send(res, 200, { computes: rows, folders: computesP ? await (await computes()).folders() : [] });
    }
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
    close: async () => {
      await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
      if (computesP) {
        const c = await computes();
        for (const p of projects.values()) if (p.history) await c.remove(p.history.key, [...p.history.branches.values()].map((b) => b.compute));
      }
    },
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

function newProject(regionId: string, cluster: NeonApiCluster, name: string, pgVersion: number, roleName: string, dbName: string, password: string, orgId?: string, retention = 0): ProjectState {
  const id = `${pick(WORDS)}-${pick(NOUNS)}-${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, '0')}`;
  const branchId = `br-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString('hex')}`;
  const endpointId = `ep-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString('hex')}`;
  const t = now();
  return {
    project: {
      id, platform_id: 'aws', region_id: regionId, name, provisioner: 'k8s-neonvm', pg_version: pgVersion, proxy_host: cluster.host,
      branch_logical_size_limit: 0, branch_logical_size_limit_bytes: -1, store_passwords: true, creation_source: 'console',
      history_retention_seconds: retention, created_at: t, updated_at: t, owner_id: 'local-owner', settings: {},
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
    lock: Promise.resolve(),
  };
}

function operation(p: ProjectState, action: string, branchId = p.branch.id, endpointId = action === 'start_compute' ? p.endpoint.id : undefined): Operation {
  const t = now();
  return {
    id: randomUUID(), project_id: p.project.id, branch_id: branchId,
    ...(endpointId ? { endpoint_id: endpointId } : {}),
    action: action as OperationAction, status: 'scheduling' as OperationStatus, failures_count: 0, created_at: t, updated_at: t, total_duration_ms: 0,
  };
}

/** A read_write endpoint of branch `branchId` listening on `port`. */
function newEndpoint(p: ProjectState, branchId: string, port: number): Endpoint {
  const t = now();
  return { ...p.endpoint, id: `ep-${pick(WORDS)}-${pick(NOUNS)}-${randomBytes(4).toString('hex')}`, branch_id: branchId, created_at: t, updated_at: t,
    current_state: 'active' as Endpoint['current_state'], pending_state: undefined };
}

/** The admin view of a compute, as the stand-in's cluster record. */
function clusterOf(c: Compute): NeonApiCluster {
  return { host: '127.0.0.1', get port() { return c.port; }, adminUrl: (db) => `postgres://postgres:${c.password}@127.0.0.1:${c.port}/${db}` };
}

/** The owner's connection to `b` (default: the project's default branch). */
function connection(p: ProjectState, b?: { compute: Compute }): ConnectionDetails {
  const host = b ? '127.0.0.1' : p.cluster.host;
  const port = b ? b.compute.port : p.cluster.port;
  return {
    connection_uri: `postgresql://${p.role.name}:${p.role.password}@${host}:${port}/${p.database.name}`,
    connection_parameters: { database: p.database.name, password: p.role.password, role: p.role.name, host, pooler_host: host },
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
