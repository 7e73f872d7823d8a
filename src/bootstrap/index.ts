/**
 * One idempotent bootstrap of the system's databases, used by `tenantctl bootstrap`, the local
 * stack and the tests alike: the control database (migrations, the router's control role and its
 * grants, the tenant-migration catalogue) and each region's shared database (the router role,
 * `shared` with RLS-forced tables, the `router` schema), ending with a verification of every
 * role it made. Running it again changes nothing but passwords that differ from the router's URLs.
 * The router's login role may be one of an alternating pair (`<group>_a` / `<group>_b`, members of
 * the group that holds the grants): a rotation sets the idle one's password, the router is deployed
 * with it, then `retireIdle` takes LOGIN from the other (docs/key-rotation.md).
 */
import type { Migration } from '../migrations/runner.js';
import { bootstrapControl } from './control-db.js';
import { bootstrapRegion } from './region-db.js';
import { report, type BootstrapReport, type ReportLine } from './report.js';
import { bootstrapTargets, type BootstrapEnv } from './targets.js';

export { BootstrapConfigError, bootstrapTargets, maskUrl, type BootstrapEnv, type BootstrapTargets, type EnvMap } from './targets.js';
export { formatReport, planLines, type BootstrapReport, type ReportLine } from './report.js';

/** The package's migrations: `migrations/control/` and `migrations/tenant/`. */
export interface BootstrapMigrations { control: Migration[]; tenant: Migration[] }

/** Prepares every database the two workers' variables name; the report says what it did and whether every role is safe. */
export async function bootstrap(env: BootstrapEnv, migrations: BootstrapMigrations, opts: { retireIdle?: boolean } = {}): Promise<BootstrapReport> {
  const t = bootstrapTargets(env);
  const lines: ReportLine[] = await bootstrapControl(t.control, migrations.control, migrations.tenant, opts);
  for (const r of t.regions) lines.push(...await bootstrapRegion(r.region, r, migrations.tenant, opts));
  return report(lines);
}
