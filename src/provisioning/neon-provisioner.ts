/**
 * Provisions tenant storage on Neon. `row` and `schema` tenants live in their region's shared
 * database and are handled by the owner-connection LocalProvisioner; a `database` tenant gets a
 * Neon project of its own in its region, named `tenant-<id>`, whose database and owner role are
 * both called `tenantIdent(id)`. Neon allows duplicate project names, so the name is looked up
 * before anything is created: a retry after a failure half-way (project created, migrations
 * failed) finishes the work on the same project. A new project is used once the operations its
 * creation started have finished; a found one is used as it is (Neon starts a compute on the
 * first connection). Callers serialise provisioning per tenant: two concurrent first attempts
 * could both create. The owner connection string is sealed at once and never logged; errors
 * carry the HTTP status and Neon's message, never a credential.
 * Runs in workerd: the API client's axios is forced onto its fetch adapter.
 */
import { createApiClient, type Api, type Operation, type ProjectListItem } from '@neondatabase/api-client';
import { open, seal } from '../crypto/secret-box.js';
import { applyMigrations, type Migration } from '../migrations/runner.js';
import { LocalProvisioner, withClient } from './local-provisioner.js';
import { tenantIdent, type Placement, type ProvisionRequest, type Provisioner } from './provisioner.js';

export interface NeonProvisionerOptions {
  apiKey: string;
  /** Neon's API root; defaults to `https://console.neon.tech/api/v2`. */
  baseUrl?: string;
  /** Owner URL of each region's shared database (the regional Neon project's owner connection). */
  regions: Record<string, { adminUrl: string }>;
  /** The role the router connects to shared databases as. */
  routerRole: string;
  masterKey: CryptoKey;
  /** PostgreSQL major version of new projects (default 17). */
  pgVersion?: number;
  /** The organisation new projects belong to; needed with a personal API key. */
  orgId?: string;
  /** Retries of a request answered 429 or 423 (default 5). */
  maxRetries?: number;
  /** Delay between polls of a pending operation (default 1000 ms). */
  pollIntervalMs?: number;
  /** Polls of one operation before giving up (default 300). */
  maxPolls?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** A refused or failed Neon API call; the message holds no credential. */
export class NeonApiError extends Error {
  override readonly name = 'NeonApiError';
  constructor(readonly call: string, readonly status: number | null, message: string) {
    super(`Neon API ${call} failed${status ? ` (HTTP ${status})` : ''}: ${message}`);
  }
}

const IDENT = /^t_[0-9a-f]{32}$/;
// Neon allows at most 400 projects per page.
const PAGE = 100;
const DONE = new Set(['finished', 'skipped', 'cancelled']);
const FAILED = new Set(['failed', 'error']);

/** A Provisioner over Neon's API (dedicated databases) and the regions' shared databases. */
export class NeonProvisioner implements Provisioner {
  private readonly api: Api<unknown>;
  private readonly shared: LocalProvisioner;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxRetries: number;

  constructor(private readonly opts: NeonProvisionerOptions) {
    if (!opts.apiKey) throw new Error('NeonProvisioner needs an API key');
    if (Object.keys(opts.regions).length === 0) throw new Error('NeonProvisioner needs at least one region');
    const baseURL = new URL(opts.baseUrl ?? 'https://console.neon.tech/api/v2').toString().replace(/\/$/, '');
    this.maxRetries = opts.maxRetries ?? 5;
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0) throw new Error('maxRetries must be a non-negative integer');
    this.shared = new LocalProvisioner({ regions: opts.regions, routerRole: opts.routerRole, masterKey: opts.masterKey });
    // The fetch adapter needs no Node http module, so the client runs in workerd.
    this.api = createApiClient({ apiKey: opts.apiKey, baseURL, adapter: 'fetch', timeout: 30_000 });
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async provision(req: ProvisionRequest): Promise<Placement> {
    if (req.isolation !== 'database') return this.shared.provision(req);
    if (!this.opts.regions[req.region]) throw new Error(`no cluster for region ${req.region}`);
    const ident = tenantIdent(req.tenantId);
    const { projectId, uri } = await this.projectFor(req.tenantId, req.region, ident);
    await withClient(uri, (c) => applyMigrations(c, req.migrations, { schema: 'public' }));
    const u = new URL(uri);
    const database = decodeURIComponent(u.pathname.slice(1));
    const role = decodeURIComponent(u.username);
    return {
      region: req.region, strategy: 'database', schemaName: 'public',
      roleName: IDENT.test(role) ? role : null,
      databaseName: IDENT.test(database) ? database : null,
      connectionSecret: await seal(this.opts.masterKey, uri, req.tenantId),
      externalRef: projectId,
    };
  }

  async migrate(tenantId: string, p: Placement, migrations: Migration[]): Promise<string[]> {
    if (p.strategy !== 'database') return this.shared.migrate(tenantId, p, migrations);
    if (!p.connectionSecret) throw new Error('placement has no connection secret');
    const uri = await open(this.opts.masterKey, p.connectionSecret, tenantId);
    return withClient(uri, (c) => applyMigrations(c, migrations, { schema: 'public' }));
  }

  async deprovision(tenantId: string, p: Placement): Promise<void> {
    if (p.strategy !== 'database') return this.shared.deprovision(tenantId, p);
    const ids = p.externalRef ? [p.externalRef] : (await this.findProjects(projectName(tenantId))).map((x) => x.id);
    for (const id of ids) {
      try {
        await this.call('deleteProject', () => this.api.deleteProject(id));
      } catch (err) {
        if (!(err instanceof NeonApiError && err.status === 404)) throw err;
      }
    }
  }

  /** The tenant's project (found, or created and ready) and its owner connection string. */
  private async projectFor(tenantId: string, region: string, ident: string): Promise<{ projectId: string; uri: string }> {
    const name = projectName(tenantId);
    const existing = (await this.findProjects(name))[0];
    if (existing) {
      if (existing.region_id !== region) throw new Error(`Neon project ${existing.id} of tenant ${tenantId} is in ${existing.region_id}, not ${region}`);
      return { projectId: existing.id, uri: await this.connectionUri(existing.id, ident) };
    }
    const created = await this.call('createProject', () => this.api.createProject({
      project: {
        name, region_id: region, pg_version: this.opts.pgVersion ?? 17, org_id: this.opts.orgId,
        branch: { database_name: ident, role_name: ident },
      },
    }));
    const projectId = created.project.id;
    await this.waitForOperations(projectId, created.operations);
    const given = created.connection_uris.find((c) => c.connection_parameters.database === ident && c.connection_parameters.role === ident);
    return { projectId, uri: given?.connection_uri ?? await this.connectionUri(projectId, ident) };
  }

  /** Live projects named exactly `name`, oldest first (Neon's search also matches parts of names). */
  private async findProjects(name: string): Promise<ProjectListItem[]> {
    const found: ProjectListItem[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const res = await this.call('listProjects', () => this.api.listProjects({ search: name, limit: PAGE, cursor, org_id: this.opts.orgId }));
      found.push(...res.projects.filter((x) => x.name === name));
      cursor = res.pagination?.cursor;
      if (res.projects.length < PAGE || !cursor) break;
    }
    return found.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  private async connectionUri(projectId: string, ident: string): Promise<string> {
    const res = await this.call('getConnectionUri', () => this.api.getConnectionUri({ projectId, database_name: ident, role_name: ident }));
    return res.uri;
  }

  /** Polls each operation until it is done; a failed one is an error. */
  private async waitForOperations(projectId: string, operations: Operation[]): Promise<void> {
    const maxPolls = this.opts.maxPolls ?? 300;
    for (let op of operations) {
      for (let polls = 0; !DONE.has(op.status) && !FAILED.has(op.status); polls++) {
        if (polls >= maxPolls) throw new Error(`Neon operation ${op.action} (${op.id}) still ${op.status} after ${polls} polls`);
        await this.sleep(this.opts.pollIntervalMs ?? 1000);
        op = (await this.call('getProjectOperation', () => this.api.getProjectOperation(projectId, op.id))).operation;
      }
      if (FAILED.has(op.status)) throw new Error(`Neon operation ${op.action} (${op.id}) ${op.status}: ${(op.error ?? 'no detail').slice(0, 200)}`);
    }
  }

  /** Runs one API call, retrying 429 and 423 with backoff; any other failure becomes a NeonApiError. */
  private async call<T>(name: string, fn: () => Promise<{ data: T }>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await fn()).data;
      } catch (err) {
        const res = (err as { response?: HttpFailure }).response;
        if (res && (res.status === 429 || res.status === 423) && attempt < this.maxRetries) {
          await this.sleep(backoff(attempt, header(res, 'retry-after')));
          continue;
        }
        // Never rethrow the axios error itself: its config carries the Authorization header.
        if (!res) throw new NeonApiError(name, null, err instanceof Error ? err.message : 'request failed');
        const body = res.data as { message?: unknown } | undefined;
        const message = typeof body?.message === 'string' ? body.message.slice(0, 200) : 'no error message';
        throw new NeonApiError(name, res.status, message);
      }
    }
  }
}

interface HttpFailure { status: number; data?: unknown; headers?: unknown }

/** The deterministic name of a tenant's Neon project. */
export function projectName(tenantId: string): string {
  tenantIdent(tenantId);
  return `tenant-${tenantId.toLowerCase()}`;
}

/** Milliseconds to wait before retry `attempt`: `Retry-After` when given, else exponential with jitter. */
export function backoff(attempt: number, retryAfter: string | null): number {
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), 60_000);
  }
  const base = Math.min(500 * 2 ** attempt, 30_000);
  return base / 2 + Math.random() * (base / 2);
}

function header(res: HttpFailure, name: string): string | null {
  const h = res.headers as { get?: (n: string) => unknown; [k: string]: unknown } | undefined;
  const v = typeof h?.get === 'function' ? h.get(name) : h?.[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}
