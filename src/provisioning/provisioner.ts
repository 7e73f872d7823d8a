/** Storage provisioning behind one interface: local clusters here, Neon's API in production. */
import type { ApplyOutcome, CataloguedMigration, RevertOutcome } from '../migrations/batch-runner.js';
import type { Migration } from '../migrations/runner.js';
import type { Isolation } from '../tenancy/tenant.js';

export interface ProvisionRequest {
  tenantId: string;
  region: string;
  isolation: Isolation;
  /** The tenant migrations to apply once the storage exists (the control plane's catalogue). */
  migrations: Migration[];
  /** The tier's connection_limit, set as the runtime role's CONNECTION LIMIT (schema, database). */
  connectionLimit?: number;
}

/** Where a tenant's rows live, as recorded in `tenant_placements`. */
export interface Placement {
  region: string;
  strategy: Isolation;
  schemaName: string | null;
  roleName: string | null;
  databaseName: string | null;
  /** Sealed connection string of a dedicated database; never returned by any API. */
  connectionSecret: string | null;
  /** The provider's handle on a dedicated database (a Neon project id); null locally. */
  externalRef: string | null;
}

export interface Provisioner {
  /** Creates (or completes) the tenant's storage and applies `migrations`; idempotent. */
  provision(req: ProvisionRequest): Promise<Placement>;
  /** Applies the pending `migrations` to the tenant's storage; returns the names applied. */
  migrate(tenantId: string, placement: Placement, migrations: Migration[]): Promise<string[]>;
  /**
   * The fleet path: applies the catalogue to many tenants of one region, one connection per
   * database (the region's shared database carries every `row` and `schema` tenant of the batch),
   * one round trip per tenant with work to do. A tenant's failure is its outcome, never a throw.
   */
  migrateMany(region: string, tenants: PlacedTenant[], catalogue: CataloguedMigration[]): Promise<Map<string, ApplyOutcome>>;
  /** Runs the `down`s of `migrations` (those each tenant has) on many tenants of one region, as `migrateMany`. */
  revertMany(region: string, tenants: PlacedTenant[], migrations: CataloguedMigration[]): Promise<Map<string, RevertOutcome>>;
  /**
   * Fences the tenant in its database (new transactions are refused with 404, those in flight are
   * waited for), drops its storage (its rows, schema and role, or database and roles) and checks
   * that nothing is left, throwing otherwise; idempotent. The fence stays until `unfence`.
   * `fence: false` (a dedicated database a move left, src/moves/): drops without fencing first, since
   * the tenant lives on elsewhere and a stale router must learn that it moved, not that it is gone.
   */
  deprovision(tenantId: string, placement: Placement, opts?: { fence?: boolean }): Promise<void>;
  /**
   * Removes the tenant's fence. Call it only once no router can still send the tenant a request
   * (routers' cache TTL + request timeout after the delete): until then the fence is what keeps a
   * late request from writing into storage that was just emptied. Idempotent.
   */
  unfence(tenantId: string, placement: Placement): Promise<void>;
  /** What is left of the tenant's storage, counted by kind (rows, schemas, roles, databases, projects); all 0 when purged. */
  leftovers(tenantId: string, placement: Placement): Promise<Leftovers>;
  /**
   * Sets the CONNECTION LIMIT of the tenant's runtime role (`schema`: its NOLOGIN role; `database`:
   * the login role the router uses); `row` tenants share the router's role, so nothing changes. Idempotent.
   */
  setConnectionLimit(tenantId: string, placement: Placement, limit: number): Promise<void>;
  /**
   * The owner connection string of the database that holds `placement` (row and schema: the
   * region's shared database), for a move's copy (src/moves/); throws where the provisioner
   * cannot give one. Never returned by any API.
   */
  ownerUrl(tenantId: string, placement: Placement): Promise<string>;
}

/** A tenant and where its rows live. */
export interface PlacedTenant { tenantId: string; placement: Placement }

/** Counts of what is left of a tenant's storage, by kind. */
export type Leftovers = Record<string, number>;

/** The number of things a Leftovers report counts. */
export function leftoverCount(left: Leftovers): number {
  return Object.values(left).reduce((n, v) => n + v, 0);
}

/** The validated identifier used for a tenant's schema, role and database. */
export function tenantIdent(tenantId: string): string {
  const hex = tenantId.toLowerCase().replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error('tenant id must be a UUID');
  return `t_${hex}`;
}

/** `url` with its database replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
