/**
 * Provisions tenant storage on Neon. `row` and `schema` tenants live in their region's shared
 * database and are handled by the owner-connection LocalProvisioner; a `database` tenant gets a
 * Neon project of its own in its region, named `tenant-<id>`, whose database and owner role are
 * both called `tenantIdent(id)`. The owner (a `neon_superuser` member, which bypasses RLS) only
 * runs migrations; the router is given a runtime role made with SQL that owns nothing and cannot
 * bypass RLS (runtime-role.ts), and only its URL is sealed. Neon allows duplicate project names,
 * so the name is looked up before anything is created: a retry after a failure half-way (project created, migrations
 * failed) finishes the work on the same project. A new project is used once the operations its
 * creation started have finished; a found one is used as it is (Neon starts a compute on the
 * first connection). Callers serialise provisioning per tenant: two concurrent first attempts
 * could both create. Connection strings are never logged or returned; errors carry the HTTP
 * status and Neon's message, never a credential. Deprovisioning fences the database, deletes the
 * project and checks that no project of the tenant is left.
 * Each region's shared project (`regionProjects`, NEON_REGION_PROJECTS) is used through SQL only
 * (its owner URL is the region's `adminUrl`), so the API is asked about it once per region and
 * isolate, before the first tenant is provisioned there: it must exist, be in that region and, with
 * an `orgId`, belong to that organisation. Projects of database tenants are created in `orgId`.
 * Runs in workerd: the API client's axios is forced onto its fetch adapter.
 */
import { createApiClient, type Api, type Operation, type ProjectListItem } from '@neondatabase/api-client';
import { randomPassword } from '../crypto/scram.js';
import { open, seal, type MasterKeys } from '../crypto/secret-box.js';
import { applyMigrations, type Migration } from '../migrations/runner.js';
import type { ApplyOutcome, CataloguedMigration, RevertOutcome } from '../migrations/batch-runner.js';
import { eachDatabase, migrateDatabase, revertDatabase } from './fleet-migrate.js';
import { LocalProvisioner, split } from './local-provisioner.js';
import { callNeon, isNotFound, waitForOperations } from './neon-calls.js';
import { withClient } from './pg-client.js';
import { leftoverCount, tenantIdent, type Leftovers, type PlacedTenant, type Placement, type ProvisionRequest, type Provisioner } from './provisioner.js';
import { assertSafeRole, fenceDatabase, hasRouterSchema, installRouterSchema } from './router-objects.js';
import { connectionLimitSql, ensureRuntimeRole, runtimeRoleName } from './runtime-role.js';

export { backoff, NeonApiError } from './neon-calls.js';

export interface NeonProvisionerOptions {
  apiKey: string;
  /** Neon's API root; defaults to `https://console.neon.tech/api/v2`. */
  baseUrl?: string;
  /** Owner URL of each region's shared database (the regional Neon project's owner connection). */
  regions: Record<string, { adminUrl: string }>;
  /** The role the router connects to shared databases as. */
  routerRole: string;
  /** The MASTER_KEY ring: new connection strings are sealed under its current key, older ones open by their key id. */
  masterKey: MasterKeys;
  /** PostgreSQL major version of new projects (default 17). */
  pgVersion?: number;
  /** The organisation new projects belong to; needed with a personal API key. */
  orgId?: string;
  /** Region → Neon project id of its shared project (row and schema tenants); every region of `regions` needs one. */
  regionProjects?: Record<string, string>;
  /**
   * History kept by new projects (Neon's `history_retention_seconds`): the window a database
   * tenant can be branched or restored in (src/branches/). Unset: Neon's default for the plan.
   */
  historyRetentionSeconds?: number;
  /** Retries of a request answered 429 or 423 (default 5). */
  maxRetries?: number;
  /** Delay between polls of a pending operation (default 1000 ms). */
  pollIntervalMs?: number;
  /** Polls of one operation before giving up (default 300). */
  maxPolls?: number;
  sleep?: (ms: number) => Promise<void>;
}

const IDENT = /^t_[0-9a-f]{32}$/;
// Neon allows at most 400 projects per page.
const PAGE = 100;

/** A Provisioner over Neon's API (dedicated databases) and the regions' shared databases. */
export class NeonProvisioner implements Provisioner {
  private readonly api: Api<unknown>;
  private readonly shared: LocalProvisioner;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxRetries: number;
  private readonly checked = new Map<string, Promise<void>>();

  constructor(private readonly opts: NeonProvisionerOptions) {
    if (!opts.apiKey) throw new Error('NeonProvisioner needs an API key');
    if (Object.keys(opts.regions).length === 0) throw new Error('NeonProvisioner needs at least one region');
    const baseURL = new URL(opts.baseUrl ?? 'https://console.neon.tech/api/v2').toString().replace(/\/$/, '');
    this.maxRetries = opts.maxRetries ?? 5;
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0) throw new Error('maxRetries must be a non-negative integer');
    for (const region of Object.keys(opts.regions)) {
      if (opts.regionProjects && !opts.regionProjects[region]) throw new Error(`NeonProvisioner has no shared project for region ${region}`);
    }
    this.shared = new LocalProvisioner({ regions: opts.regions, routerRole: opts.routerRole, masterKey: opts.masterKey });
    // The fetch adapter needs no Node http module, so the client runs in workerd.
    this.api = createApiClient({ apiKey: opts.apiKey, baseURL, adapter: 'fetch', timeout: 30_000 });
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async provision(req: ProvisionRequest): Promise<Placement> {
    if (!this.opts.regions[req.region]) throw new Error(`no cluster for region ${req.region}`);
    await this.checkRegionProject(req.region);
    if (req.isolation !== 'database') return this.shared.provision(req);
    const ident = tenantIdent(req.tenantId);
    const { projectId, uri } = await this.projectFor(req.tenantId, req.region, ident);
    const runtime = await runtimeRoleName(req.tenantId);
    const password = randomPassword();
    const u = new URL(uri);
    const database = decodeURIComponent(u.pathname.slice(1));
    await withClient(uri, async (c) => {
      await applyMigrations(c, req.migrations, { schema: 'public' });
      await ensureRuntimeRole(c, runtime, database, password);
      if (req.connectionLimit) await c.query(connectionLimitSql(runtime, req.connectionLimit));
      await installRouterSchema(c, runtime);
      await assertSafeRole(c, runtime);
    });
    u.username = runtime;
    u.password = password;
    return {
      region: req.region, strategy: 'database', schemaName: 'public', roleName: runtime,
      databaseName: IDENT.test(database) ? database : null,
      connectionSecret: await seal(this.opts.masterKey, u.toString(), req.tenantId),
      externalRef: projectId,
    };
  }

  async migrate(tenantId: string, p: Placement, migrations: Migration[]): Promise<string[]> {
    if (p.strategy !== 'database') return this.shared.migrate(tenantId, p, migrations);
    if (!p.connectionSecret) throw new Error('placement has no connection secret');
    // The sealed secret opens for its own tenant only: proof that this placement is the tenant's.
    await open(this.opts.masterKey, p.connectionSecret, tenantId);
    const projectId = p.externalRef ?? (await this.findProjects(projectName(tenantId)))[0]?.id;
    if (!projectId) throw new Error(`tenant ${tenantId} has no Neon project`);
    // Migrations run as the owner: the runtime role may not create anything.
    const owner = await this.connectionUri(projectId, tenantIdent(tenantId));
    return withClient(owner, async (c) => {
      const applied = await applyMigrations(c, migrations, { schema: 'public' });
      // Projects made before the current router schema (router.verify) get it here.
      if (!(await hasRouterSchema(c))) await installRouterSchema(c, p.roleName ?? await runtimeRoleName(tenantId));
      return applied;
    });
  }

  async migrateMany(region: string, tenants: PlacedTenant[], catalogue: CataloguedMigration[]): Promise<Map<string, ApplyOutcome>> {
    const [shared, dedicated] = split(tenants);
    const [a, b] = await Promise.all([
      this.shared.migrateMany(region, shared, catalogue),
      eachDatabase(dedicated, (t) => migrateDatabase(() => this.migrate(t.tenantId, t.placement, catalogue))),
    ]);
    return new Map([...a, ...b]);
  }

  async revertMany(region: string, tenants: PlacedTenant[], migrations: CataloguedMigration[]): Promise<Map<string, RevertOutcome>> {
    const [shared, dedicated] = split(tenants);
    const [a, b] = await Promise.all([
      this.shared.revertMany(region, shared, migrations),
      eachDatabase(dedicated, async (t) => {
        try {
          return await revertDatabase(await this.ownerUri(t.tenantId, t.placement), migrations);
        } catch (err) {
          return { ok: false as const, error: String((err as Error)?.message ?? err).slice(0, 500) };
        }
      }),
    ]);
    return new Map([...a, ...b]);
  }

  /** The owner connection of a dedicated database (its sealed secret proves the placement is the tenant's). */
  private async ownerUri(tenantId: string, p: Placement): Promise<string> {
    if (!p.connectionSecret) throw new Error('placement has no connection secret');
    await open(this.opts.masterKey, p.connectionSecret, tenantId);
    const projectId = p.externalRef ?? (await this.findProjects(projectName(tenantId)))[0]?.id;
    if (!projectId) throw new Error(`tenant ${tenantId} has no Neon project`);
    return this.connectionUri(projectId, tenantIdent(tenantId));
  }

  async deprovision(tenantId: string, p: Placement, opts: { fence?: boolean } = {}): Promise<void> {
    if (p.strategy !== 'database') return this.shared.deprovision(tenantId, p, opts);
    const ident = tenantIdent(tenantId);
    for (const id of await this.projectIds(tenantId, p)) {
      if (opts.fence !== false) await fenceDatabase(tenantId, () => this.connectionUri(id, ident).catch((err: unknown) => { if (isNotFound(err)) return null; throw err; }));
      try {
        await this.call('deleteProject', () => this.api.deleteProject(id));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const left = await this.leftovers(tenantId, p);
    if (leftoverCount(left) > 0) throw new Error(`deprovisioning tenant ${tenantId} left ${JSON.stringify(left)}`);
  }

  async leftovers(tenantId: string, p: Placement): Promise<Leftovers> {
    if (p.strategy !== 'database') return this.shared.leftovers(tenantId, p);
    const ids = new Set((await this.findProjects(projectName(tenantId))).filter((x) => x.region_id === p.region).map((x) => x.id));
    if (p.externalRef && !ids.has(p.externalRef)) {
      try {
        await this.call('getProject', () => this.api.getProject(p.externalRef!));
        ids.add(p.externalRef);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    // Branches (restore branches, preserved states) are counted too: each project has at least its default one.
    let branches = 0;
    for (const id of ids) {
      try {
        branches += (await this.call('listProjectBranches', () => this.api.listProjectBranches({ projectId: id }))).branches.length;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return { projects: ids.size, branches };
  }

  async setConnectionLimit(tenantId: string, p: Placement, limit: number): Promise<void> {
    if (p.strategy !== 'database') return this.shared.setConnectionLimit(tenantId, p, limit);
    const projectId = p.externalRef ?? (await this.findProjects(projectName(tenantId)))[0]?.id;
    if (!projectId) throw new Error(`tenant ${tenantId} has no Neon project`);
    const role = p.roleName ?? await runtimeRoleName(tenantId);
    // The owner made the runtime role (CREATEROLE), so it may change it; the role itself may not.
    const owner = await this.connectionUri(projectId, tenantIdent(tenantId));
    await withClient(owner, (c) => c.query(connectionLimitSql(role, limit)));
  }

  async ownerUrl(tenantId: string, p: Placement): Promise<string> {
    if (p.strategy !== 'database') return this.shared.ownerUrl(tenantId, p);
    const projectId = p.externalRef ?? (await this.findProjects(projectName(tenantId)))[0]?.id;
    if (!projectId) throw new Error(`tenant ${tenantId} has no Neon project`);
    return this.connectionUri(projectId, tenantIdent(tenantId));
  }

  async unfence(tenantId: string, p: Placement): Promise<void> {
    // A dedicated database's fence went with its project.
    if (p.strategy !== 'database') return this.shared.unfence(tenantId, p);
    tenantIdent(tenantId);
  }

  /** Proves, once per region, that its shared project exists where the configuration says. */
  private checkRegionProject(region: string): Promise<void> {
    const id = this.opts.regionProjects?.[region];
    if (!id) return Promise.resolve();
    let check = this.checked.get(region);
    if (!check) {
      check = (async () => {
        let project: { region_id: string; org_id?: string };
        try {
          project = (await this.call('getProject', () => this.api.getProject(id))).project;
        } catch (err) {
          if (isNotFound(err)) throw new Error(`the shared Neon project ${id} of region ${region} (NEON_REGION_PROJECTS) does not exist`);
          throw err;
        }
        if (project.region_id !== region) throw new Error(`the shared Neon project ${id} of region ${region} is in ${project.region_id}`);
        if (this.opts.orgId && project.org_id !== this.opts.orgId) throw new Error(`the shared Neon project ${id} of region ${region} is not in organisation ${this.opts.orgId}`);
      })();
      check.catch(() => this.checked.delete(region));
      this.checked.set(region, check);
    }
    return check;
  }

  /** The tenant's projects: the recorded one, or those found by name. */
  private async projectIds(tenantId: string, p: Placement): Promise<string[]> {
    return p.externalRef ? [p.externalRef] : (await this.findProjects(projectName(tenantId))).filter((x) => x.region_id === p.region).map((x) => x.id);
  }

  /** The tenant's project (found, or created and ready) and its owner connection string. */
  private async projectFor(tenantId: string, region: string, ident: string): Promise<{ projectId: string; uri: string }> {
    const name = projectName(tenantId);
    // A project of the tenant in another region is the source of a move, never this one.
    const existing = (await this.findProjects(name)).find((x) => x.region_id === region);
    if (existing) {
      return { projectId: existing.id, uri: await this.connectionUri(existing.id, ident) };
    }
    const created = await this.call('createProject', () => this.api.createProject({
      project: {
        name, region_id: region, pg_version: this.opts.pgVersion ?? 17, org_id: this.opts.orgId,
        ...(this.opts.historyRetentionSeconds === undefined ? {} : { history_retention_seconds: this.opts.historyRetentionSeconds }),
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
  private waitForOperations(projectId: string, operations: Operation[]): Promise<void> {
    return waitForOperations((id) => this.call('getProjectOperation', () => this.api.getProjectOperation(projectId, id)).then((r) => r.operation), operations,
      { maxPolls: this.opts.maxPolls ?? 300, pollIntervalMs: this.opts.pollIntervalMs ?? 1000, sleep: this.sleep });
  }

  private call<T>(name: string, fn: () => Promise<{ data: T }>): Promise<T> {
    return callNeon(name, fn, this.maxRetries, this.sleep);
  }
}

/** The deterministic name of a tenant's Neon project. */
export function projectName(tenantId: string): string {
  tenantIdent(tenantId);
  return `tenant-${tenantId.toLowerCase()}`;
}
