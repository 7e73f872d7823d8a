/**
 * A typed client for the admin API (/admin/v1). Every refusal comes back as the API's one error
 * shape `{error:{code,message,requestId}}` and is thrown as `ApiError`; a control plane that cannot
 * be reached is `ApiError` UNREACHABLE, one that does not answer within the timeout is TIMEOUT, so
 * the CLI has one failure path.
 */
import type { MetricsSummary } from '../metrics/summary.js';
import type { z } from '@hono/zod-openapi';
import type { ControlConfig } from './config.js';
import type {
  AuditEntrySchema, AuditVerifySchema, CreateTemplateSchema, CreateTenantSchema, GeoPolicySchema, JwtSettingsSchema,
  MigrationStatusSchema, PatchTemplateSchema, PatchTenantSchema, Template, TenantView, UsageSchema,
} from '../control/schemas.js';
import type { KeyStatus, ResealReport } from '../crypto/reseal.js';
import type { ErasureReceipt } from '../tenant-data/erase.js';
import type { BackupRecord } from '../backups/store.js';
import type { RestoreReport, RestoreTarget } from '../backups/restore.js';
import type { DomainViewSchema } from '../custom-hostnames/schemas.js';
import type { AlertView } from '../alerts/store.js';

export type { Template, TenantView, AlertView };
export type CreateTenant = z.input<typeof CreateTenantSchema>;
export type PatchTenant = z.input<typeof PatchTenantSchema>;
export type JwtSettings = z.input<typeof JwtSettingsSchema>;
export type GeoPolicy = z.input<typeof GeoPolicySchema>;
export type CreateTemplate = z.input<typeof CreateTemplateSchema>;
export type PatchTemplate = z.input<typeof PatchTemplateSchema>;
/** One catalogued tenant migration. */
export interface CatalogueEntry { name: string; checksum: string; hasDown: boolean; createdAt: string }
export type Usage = z.infer<typeof UsageSchema>;
export type TenantMetrics = MetricsSummary & { tenantId: string; slug: string; windowMinutes: number; from: string; to: string; regions: (MetricsSummary & { region: string })[] };
export type DomainView = z.infer<typeof DomainViewSchema>;
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
export type AuditVerification = z.infer<typeof AuditVerifySchema>;
export type MigrationStatus = z.infer<typeof MigrationStatusSchema>;
export interface StatusPage {
  tenants: MigrationStatus[];
  nextCursor: string | null;
  summary: { total: number; current: number; pending: number; failed: number; migrating: number };
}
export interface MigrateResult { tenantId: string; applied: string[]; state: 'current' | 'failed'; error: string | null }
export interface BatchResult { tenantId: string; state: 'current' | 'failed' | 'skipped'; applied: string[]; error: string | null }
export interface RevertResult { tenantId: string; state: 'reverted' | 'failed' | 'skipped'; reverted: string[]; applied: string | null; error: string | null }
export type ResealResult = ResealReport & { status: KeyStatus };
export interface ImportResult { created: string[]; updated: string[]; unchanged: string[] }

/** A refusal by the API (or no answer at all). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly status: number, readonly code: string, message: string, readonly requestId: string | null = null) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined>;
interface Call { query?: Query; body?: unknown; text?: string; contentType?: string; raw?: boolean; minTimeoutSeconds?: number }
/** A migration batch may take minutes (a thousand tenants, a slow migration): its calls wait at least this long. */
const BATCH_TIMEOUT_SECONDS = 300;
/** A move copies the tenant's rows before it answers: minutes for a large tenant. */
const MOVE_TIMEOUT_SECONDS = 900;
/** Branching and restoring wait on Neon's operations. */
const BRANCH_TIMEOUT_SECONDS = 180;
/** A backup reads and a restore rewrites every row of the tenant (and a restore into a new tenant provisions it) before answering. */
const BACKUP_TIMEOUT_SECONDS = MOVE_TIMEOUT_SECONDS;

/** The admin API over fetch, authenticated with a bearer token. */
export class ControlClient {
  constructor(private readonly config: ControlConfig) {}

  createTenant = (body: CreateTenant) => this.call<TenantView>('POST', '/tenants', { body });
  listTenants = (query: Query) => this.call<{ tenants: TenantView[]; nextCursor: string | null }>('GET', '/tenants', { query });
  getTenant = (ref: string) => this.call<TenantView>('GET', `/tenants/${seg(ref)}`);
  suspend = (ref: string) => this.call<TenantView>('POST', `/tenants/${seg(ref)}/suspend`);
  resume = (ref: string) => this.call<TenantView>('POST', `/tenants/${seg(ref)}/resume`);
  deleteTenant = (ref: string, confirm?: string) =>
    this.call<{ deleted: true; id: string; slug: string; purgeCompletesAt?: string }>('DELETE', `/tenants/${seg(ref)}`, { query: { confirm } });
  // A new tier of another isolation moves the tenant's data before the PATCH answers.
  updateTenant = (ref: string, body: PatchTenant) => this.call<TenantView>('PATCH', `/tenants/${seg(ref)}`, { body, minTimeoutSeconds: body.tier ? MOVE_TIMEOUT_SECONDS : 0 });
  exportTenant = (ref: string) => this.call<string>('POST', `/tenants/${seg(ref)}/export`, { raw: true });
  eraseTenant = (ref: string, confirm?: string) => this.call<ErasureReceipt>('POST', `/tenants/${seg(ref)}/erase`, { query: { confirm } });
  verifyDocument = (doc: object) => this.call<{ valid: boolean; kid: string | null }>('POST', '/exports/verify', { body: doc });
  provision = (ref: string) => this.call<TenantView>('POST', `/tenants/${seg(ref)}/provision`);
  setJwt = (ref: string, body: JwtSettings) => this.call<TenantView>('PUT', `/tenants/${seg(ref)}/jwt`, { body });
  removeJwt = (ref: string) => this.call<TenantView>('DELETE', `/tenants/${seg(ref)}/jwt`);
  setGeo = (ref: string, body: GeoPolicy) => this.call<TenantView>('PUT', `/tenants/${seg(ref)}/geo`, { body });
  usage = (ref: string, month?: string) => this.call<Usage>('GET', `/tenants/${seg(ref)}/usage`, { query: { month } });
  tenantMetrics = (ref: string, window?: number) => this.call<TenantMetrics>('GET', `/tenants/${seg(ref)}/metrics`, { query: { window } });
  metrics = () => this.call<string>('GET', '/metrics', { raw: true });
  migrateTenant = (id: string) => this.call<MigrateResult>('POST', `/tenants/${seg(id)}/migrate`);
  addDomain = (ref: string, hostname: string) => this.call<DomainView>('POST', `/tenants/${seg(ref)}/domains`, { body: { hostname } });
  getDomain = (ref: string, hostname: string) => this.call<DomainView>('GET', `/tenants/${seg(ref)}/domains/${seg(hostname)}`);
  refreshDomain = (ref: string, hostname: string) => this.call<DomainView>('POST', `/tenants/${seg(ref)}/domains/${seg(hostname)}/refresh`);
  removeDomain = (ref: string, hostname: string) => this.call<TenantView>('DELETE', `/tenants/${seg(ref)}/domains/${seg(hostname)}`);
  listTiers = () => this.call<{ templates: Template[] }>('GET', '/tiers');
  getTier = (name: string) => this.call<Template>('GET', `/tiers/${seg(name)}`);
  createTier = (body: CreateTemplate) => this.call<Template>('POST', '/tiers', { body });
  updateTier = (name: string, body: PatchTemplate) => this.call<Template>('PATCH', `/tiers/${seg(name)}`, { body });
  deleteTier = (name: string) => this.call<{ deleted: string }>('DELETE', `/tiers/${seg(name)}`);
  exportTiers = (names?: string) => this.call<string>('GET', '/tiers/export', { query: { names }, raw: true });
  importTiers = (yaml: string) => this.call<ImportResult>('POST', '/tiers/import', { text: yaml, contentType: 'application/yaml' });
  auditVerify = () => this.call<AuditVerification>('GET', '/audit/verify');
  auditList = (query: Query) => this.call<{ entries: AuditEntry[]; nextCursor: number | null }>('GET', '/audit', { query });
  putMigration = (name: string, sql: string) =>
    this.call<{ name: string; result: 'created' | 'unchanged' }>('PUT', `/migrations/${seg(name)}`, { text: sql, contentType: 'application/sql' });
  putMigrationDown = (name: string, sql: string) =>
    this.call<{ name: string; result: 'created' | 'unchanged' }>('PUT', `/migrations/${seg(name)}/down`, { text: sql, contentType: 'application/sql' });
  applyMigrations = (tenantIds: string[]) =>
    this.call<{ results: BatchResult[] }>('POST', '/migrations/apply', { body: { tenantIds }, minTimeoutSeconds: BATCH_TIMEOUT_SECONDS });
  revertMigrations = (tenantIds: string[], migrations: string[]) =>
    this.call<{ results: RevertResult[] }>('POST', '/migrations/revert', { body: { tenantIds, migrations }, minTimeoutSeconds: BATCH_TIMEOUT_SECONDS });
  listMigrations = () => this.call<{ migrations: CatalogueEntry[] }>('GET', '/migrations');
  migrationStatus = (query: Query) => this.call<StatusPage>('GET', '/migrations/status', { query });
  listAlerts = (query: Query) => this.call<{ alerts: AlertView[]; nextCursor: string | null }>('GET', '/alerts', { query });
  getAlert = (id: string) => this.call<AlertView>('GET', `/alerts/${seg(id)}`);
  acknowledgeAlert = (id: string) => this.call<AlertView>('POST', `/alerts/${seg(id)}/acknowledge`);
  remediateAlert = (id: string, action: string) =>
    this.call<{ alert: AlertView; tenant: { id: string; slug: string; status: string; version: number } }>('POST', `/alerts/${seg(id)}/remediate`, { body: { action } });
  keyStatus = () => this.call<KeyStatus>('GET', '/keys');
  moveTenant = (ref: string, body: { isolation?: string; region?: string }) => this.call<MoveReport>('POST', `/tenants/${seg(ref)}/move`, { body, minTimeoutSeconds: MOVE_TIMEOUT_SECONDS });
  backupTenant = (ref: string) => this.call<BackupRecord>('POST', `/tenants/${seg(ref)}/backups`, { minTimeoutSeconds: BACKUP_TIMEOUT_SECONDS });
  listBackups = (ref: string) => this.call<{ backups: BackupRecord[] }>('GET', `/tenants/${seg(ref)}/backups`);
  restoreTenant = (ref: string, body: { backupId: string; target: RestoreTarget }) => this.call<RestoreReport>('POST', `/tenants/${seg(ref)}/restore`, { body, minTimeoutSeconds: BACKUP_TIMEOUT_SECONDS });
  listMoves = (ref: string) => this.call<{ moves: Record<string, unknown>[] }>('GET', `/tenants/${seg(ref)}/moves`);
  createBranch = (ref: string, body: { at: string; expect?: Record<string, number> }) =>
    this.call<BranchVerification & { ms: number }>('POST', `/tenants/${seg(ref)}/branches`, { body, minTimeoutSeconds: BRANCH_TIMEOUT_SECONDS });
  listBranches = (ref: string) => this.call<{ branches: BranchView[] }>('GET', `/tenants/${seg(ref)}/branches`);
  verifyBranch = (ref: string, branchId: string, body: { expect?: Record<string, number> }) =>
    this.call<BranchVerification>('POST', `/tenants/${seg(ref)}/branches/${seg(branchId)}/verify`, { body, minTimeoutSeconds: BRANCH_TIMEOUT_SECONDS });
  promoteBranch = (ref: string, branchId: string, body: { expect?: Record<string, number> }) =>
    this.call<{ main: BranchView; preserved: BranchView; promoted: BranchVerification; ms: number }>('POST', `/tenants/${seg(ref)}/branches/${seg(branchId)}/promote`, { body, minTimeoutSeconds: BRANCH_TIMEOUT_SECONDS });
  migrateOnBranch = (ref: string) =>
    this.call<{ applied: string[]; branch: BranchView | null; preserved: BranchView | null; tables: Record<string, number>; fenceMs: number }>('POST', `/tenants/${seg(ref)}/branches/migrate`, { minTimeoutSeconds: MOVE_TIMEOUT_SECONDS });
  discardBranch = (ref: string, branchId: string) => this.call<{ discarded: BranchView }>('DELETE', `/tenants/${seg(ref)}/branches/${seg(branchId)}`);
  reseal = (body: { cursor?: string; limit?: number }) => this.call<ResealResult>('POST', '/keys/reseal', { body });
  rewrap = (body: { cursor?: string; limit?: number }) => this.call<ResealResult>('POST', '/keys/rewrap', { body });

  private async call<T>(method: string, path: string, opts: Call = {}): Promise<T> {
    const url = new URL(`${this.config.url}/admin/v1${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.config.token}`, accept: 'application/json' };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    } else if (opts.text !== undefined) {
      headers['content-type'] = opts.contentType ?? 'text/plain';
      body = opts.text;
    }
    // One deadline for the whole exchange: connecting, the headers and the body.
    const timeoutSeconds = Math.max(this.config.timeoutSeconds, opts.minTimeoutSeconds ?? 0);
    const signal = AbortSignal.timeout(timeoutSeconds * 1000);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method, headers, body, signal });
      text = await res.text();
    } catch (err) {
      throw noAnswerError(err, method, url, { ...this.config, timeoutSeconds });
    }
    if (!res.ok) throw toApiError(res.status, text);
    if (opts.raw) return text as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'BAD_RESPONSE', `${method} ${path}: the answer is not JSON`);
    }
  }
}

/** A branch of a database tenant's Neon project (src/branches/names.ts). */
export interface BranchView { id: string; name: string; kind: string; default: boolean; parentId: string | null; parentTimestamp: string | null; createdAt: string; state: string }
/** A branch's rows per table and those that differ from the expectation. */
export interface BranchVerification { branch: BranchView; tables: Record<string, number>; mismatches: { table: string; expected: number; actual: number | null }[]; ok: boolean }

/** What POST /tenants/{id}/move answers (src/moves/move.ts). */
export interface MoveReport {
  moveId: string; tenantId: string; from: { region: string; isolation: string }; to: { region: string; isolation: string };
  copied: Record<string, number>; tail: Record<string, { inserted: number; replaced: number; deleted: number }>;
  fenceMs: number; version: number; cleaned: boolean;
}

/** Why a call got no answer, as one line: the deadline passed, or the network failed. */
function noAnswerError(err: unknown, method: string, url: URL, config: ControlConfig): ApiError {
  const where = `${method} ${url.origin}${url.pathname}`;
  if ((err as Error).name === 'TimeoutError') {
    return new ApiError(0, 'TIMEOUT', `the control plane did not answer within ${config.timeoutSeconds} s (${where})`);
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new ApiError(0, 'UNREACHABLE', `control plane at ${config.url} did not answer (${why}; ${where})`);
}

/** The API's error body, or a stand-in naming the status when the body is something else. */
function toApiError(status: number, text: string): ApiError {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown; requestId?: unknown } }).error;
    if (e && typeof e.code === 'string') {
      return new ApiError(status, e.code, String(e.message ?? ''), typeof e.requestId === 'string' ? e.requestId : null);
    }
  } catch { /* not JSON */ }
  return new ApiError(status, `HTTP_${status}`, text.slice(0, 200).trim() || 'no body');
}

/** One path segment: ids, slugs, hostnames and migration names never split a path. */
const seg = (s: string) => encodeURIComponent(s);
