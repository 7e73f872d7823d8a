/**
 * The branches of a `database` tenant's Neon project, through Neon's API v2 (the calls of
 * @neondatabase/api-client, retried like the provisioner's: 429/423, operations polled):
 * - a restore branch: `createProjectBranch` from the default branch at `parent_timestamp` T, with a
 *   read_write endpoint so it can be verified (its own compute, its own host);
 * - promotion: `restoreProjectBranch` of the default branch from the restore branch, with
 *   `preserve_under_name`, so the tenant's endpoint (and the sealed connection string) stays and
 *   the state it replaced is kept as a branch until discarded;
 * - discard: `deleteProjectBranch`; Neon refuses the default branch and a branch with children.
 * Names say what a branch is for (`restore-…`, `pre-restore-…`): see docs/branches.md.
 */
import { createApiClient, type Api, type Branch, type Operation } from '@neondatabase/api-client';
import { callNeon, isNotFound, waitForOperations } from '../provisioning/neon-calls.js';
import { branchKind, type BranchView } from './names.js';

export interface NeonBranchesOptions {
  apiKey: string;
  /** Neon's API root; defaults to `https://console.neon.tech/api/v2`. */
  baseUrl?: string;
  /** Retries of a request answered 429 or 423 (default 5). */
  maxRetries?: number;
  /** Delay between polls of a pending operation (default 500 ms: an operator waits on them). */
  pollIntervalMs?: number;
  /** Polls of one operation before giving up (default 600). */
  maxPolls?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class NeonBranches {
  private readonly api: Api<unknown>;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: NeonBranchesOptions) {
    if (!opts.apiKey) throw new Error('NeonBranches needs an API key');
    const baseURL = new URL(opts.baseUrl ?? 'https://console.neon.tech/api/v2').toString().replace(/\/$/, '');
    // Branching and restoring wait for Neon's work: longer than the provisioner's calls, still bounded.
    this.api = createApiClient({ apiKey: opts.apiKey, baseURL, adapter: 'fetch', timeout: 60_000 });
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Every branch of the project, the default one first, then oldest first. */
  async list(projectId: string): Promise<BranchView[]> {
    const res = await this.call('listProjectBranches', () => this.api.listProjectBranches({ projectId, sort_by: 'created_at', sort_order: 'asc', limit: 400 }));
    return res.branches.map(view).sort((a, b) => Number(b.default) - Number(a.default) || a.createdAt.localeCompare(b.createdAt));
  }

  /** The project's default branch (the tenant's live data). */
  async main(projectId: string): Promise<BranchView> {
    const main = (await this.list(projectId)).find((b) => b.default);
    if (!main) throw new Error(`Neon project ${projectId} has no default branch`);
    return main;
  }

  /** A new branch of the default branch at `at`, with a read_write endpoint, ready to connect to. */
  async createAt(projectId: string, at: Date, name: string): Promise<BranchView> {
    const main = await this.main(projectId);
    const res = await this.call('createProjectBranch', () => this.api.createProjectBranch(projectId, {
      branch: { parent_id: main.id, name, parent_timestamp: at.toISOString() },
      endpoints: [{ type: 'read_write' as never }],
    }));
    await this.wait(projectId, res.operations);
    return view(res.branch);
  }

  /** The owner's connection string to `branchId` (a read_write endpoint is added when it has none). Never returned by any API. */
  async ownerUri(projectId: string, branchId: string, ident: string): Promise<string> {
    const endpoints = (await this.call('listProjectBranchEndpoints', () => this.api.listProjectBranchEndpoints(projectId, branchId))).endpoints;
    if (!endpoints.some((e) => e.type === 'read_write')) {
      const made = await this.call('createProjectEndpoint', () => this.api.createProjectEndpoint(projectId, { endpoint: { branch_id: branchId, type: 'read_write' as never } }));
      await this.wait(projectId, made.operations);
    }
    return (await this.call('getConnectionUri', () => this.api.getConnectionUri({ projectId, branch_id: branchId, database_name: ident, role_name: ident }))).uri;
  }

  /**
   * Restores the default branch from `branchId` (its head); the replaced state is kept as the
   * branch `preserveAs`. The default branch keeps its endpoint, so connection strings stay valid.
   */
  async promote(projectId: string, branchId: string, preserveAs: string): Promise<{ main: BranchView; preserved: BranchView }> {
    const main = await this.main(projectId);
    if (main.id === branchId) throw new RangeError('the default branch cannot be promoted onto itself');
    const res = await this.call('restoreProjectBranch', () => this.api.restoreProjectBranch(projectId, main.id, { source_branch_id: branchId, preserve_under_name: preserveAs }));
    await this.wait(projectId, res.operations);
    const preserved = (await this.list(projectId)).filter((b) => b.name === preserveAs).at(-1);
    if (!preserved) throw new Error(`Neon kept no branch named ${preserveAs} after the restore`);
    return { main: view(res.branch), preserved };
  }

  /** Deletes a branch; false when it was already gone (Neon answers 204, or 404 for a project gone too). */
  async discard(projectId: string, branchId: string): Promise<boolean> {
    let res: { operations?: Operation[] } | '' | undefined;
    try {
      res = await this.call('deleteProjectBranch', () => this.api.deleteProjectBranch({ projectId, branchId }));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    if (!res || !res.operations) return false;
    await this.wait(projectId, res.operations);
    return true;
  }

  private wait(projectId: string, operations: Operation[]): Promise<void> {
    return waitForOperations((id) => this.call('getProjectOperation', () => this.api.getProjectOperation(projectId, id)).then((r) => r.operation), operations,
      { maxPolls: this.opts.maxPolls ?? 600, pollIntervalMs: this.opts.pollIntervalMs ?? 500, sleep: this.sleep });
  }

  private call<T>(name: string, fn: () => Promise<{ data: T }>): Promise<T> {
    return callNeon(name, fn, this.opts.maxRetries ?? 5, this.sleep);
  }
}

function view(b: Branch): BranchView {
  return {
    id: b.id, name: b.name, kind: branchKind(b.name, b.default), default: b.default, parentId: b.parent_id ?? null,
    parentTimestamp: b.parent_timestamp ?? null, createdAt: b.created_at, state: b.current_state,
  };
}
