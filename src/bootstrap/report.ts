/** The bootstrap's report and its dry-run plan, as lines for a terminal (pure; no password, no URL with one). */
import type { Migration } from '../migrations/runner.js';
import type { Outcome } from './roles.js';
import { CONTROL_GRANTEE, ROUTER_CONTROL_READS } from './sql.js';
import { maskUrl, type BootstrapTargets } from './targets.js';

/** One thing the bootstrap looked at: a database, a role, or a role's verification. */
export interface ReportLine {
  kind: 'database' | 'role' | 'verify';
  name: string;
  /** The database it is in, e.g. `region aws-us-east-2 database app`. */
  where: string;
  outcome: Outcome | 'safe' | 'unsafe';
  detail: string;
}

/** What one run did; `ok` is false when a role failed its verification. */
export interface BootstrapReport {
  lines: ReportLine[];
  ok: boolean;
  /** Whether anything was created or changed. */
  changed: boolean;
}

/** `1 migration`, `5 migrations`. */
export const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The detail of a router login role's line: the group it is a member of, when one of the pair. */
export const roleDetail = (t: { role: { name: string }; group: string }): string => (t.group === t.role.name ? '' : `member of ${t.group}`);

/** Builds the report from its lines. */
export function report(lines: ReportLine[]): BootstrapReport {
  return {
    lines,
    ok: lines.every((l) => l.outcome !== 'unsafe'),
    changed: lines.some((l) => l.kind !== 'verify' && l.outcome !== 'up to date'),
  };
}

/** One line per database and role: `role app_router in region … database app: created`. */
export function formatReport(r: BootstrapReport): string[] {
  return r.lines.map((l) => {
    const extra = l.detail ? ` (${l.detail})` : '';
    if (l.kind === 'database') return `${l.where}: ${l.outcome}${extra}`;
    if (l.kind === 'role') return `role ${l.name} in ${l.where}: ${l.outcome}${extra}`;
    return l.outcome === 'safe' ? `role ${l.name} in ${l.where}: verified (owns nothing, cannot bypass RLS)`
      : `role ${l.name} in ${l.where}: NOT SAFE: ${l.detail}`;
  });
}

/** What a run would do, for --dry-run: nothing is connected to. */
export function planLines(t: BootstrapTargets, migrations: { control: Migration[]; tenant: Migration[] }): string[] {
  const c = t.control;
  const lines = [
    `control database ${c.database} at ${maskUrl(c.ownerUrl)}: create if missing, apply the pending of ${migrations.control.length} control migrations, add the missing of ${migrations.tenant.length} tenant migrations to the catalogue`,
    `  role ${c.role.name}: create (login, owns nothing, no SUPERUSER/BYPASSRLS/CREATEROLE/CREATEDB) or set the router's password;${c.role.name === CONTROL_GRANTEE ? '' : ` member of ${CONTROL_GRANTEE};`} SELECT on the tables it resolves tenants from (${ROUTER_CONTROL_READS.join(', ')}), writes to usage_flushes, EXECUTE on audit_append_edge(), nothing else`,
  ];
  for (const r of t.regions) {
    lines.push(`region ${r.region} database ${r.database} at ${maskUrl(r.ownerUrl)}: create if missing, schema shared with the pending of ${migrations.tenant.length} tenant migrations (RLS forced), schema router (fences, router.enter)`);
    lines.push(`  role ${r.role.name}: create (login, owns nothing, no SUPERUSER/BYPASSRLS/CREATEROLE/CREATEDB) or set the router's password; DML on shared tables, router.enter()`);
  }
  lines.push('then verify every role: not a superuser, no BYPASSRLS/CREATEROLE/CREATEDB, owns nothing, member of no role that does; and that the router logs in with its URLs');
  return lines;
}
