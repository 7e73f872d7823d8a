/**
 * The first statement of every tenant transaction (pure). `router.enter` comes first in the
 * target list, so it runs as the router's login role, before `role` changes (schema tenants), and
 * a fenced, late or unsafe target is refused before anything else happens. The rest is
 * transaction-local: the server-side statement timeout, the search path, the tenant setting.
 * Names travel as bound parameters; nothing is spliced into the SQL.
 */

export interface SetupInput {
  tenantId: string;
  /** The one schema on the search path (`shared`, `public` or the tenant's). */
  schema: string;
  /** The NOLOGIN role to become (schema tenants), or null. */
  role: string | null;
  /** When the request stops waiting: a transaction that starts later is refused. */
  deadline: Date;
  /** statement_timeout for the tenant's statement, in milliseconds. */
  timeoutMs: number;
  /** Whether `enter` also checks that the serving role cannot bypass row-level security. */
  check: boolean;
  /** The request's W3C trace id: the session's application_name says it (pg_stat_activity, logs with %a). */
  traceId?: string;
}

const ENTER = 'router.enter($1, $2, $3)';
const BASE = `SELECT ${ENTER}, set_config('statement_timeout', $4, true), set_config('search_path', $5, true), set_config('app.tenant_id', $6, true), set_config('application_name', $7, true)`;
const AS_ROLE = `SELECT ${ENTER}, set_config('statement_timeout', $4, true), set_config('role', $5, true), set_config('search_path', $6, true), set_config('app.tenant_id', $7, true), set_config('application_name', $8, true)`;
const TRACE_ID = /^[0-9a-f]{32}$/;

/** `tenant-router` and, when there is one, the trace: `tenant-router trace=<32 hex>` (63 bytes at most, as PostgreSQL keeps). */
const applicationName = (traceId?: string) => (traceId && TRACE_ID.test(traceId) ? `tenant-router trace=${traceId}` : 'tenant-router');

/** The setup statement and its parameters. */
export function tenantSetup(i: SetupInput): { text: string; params: unknown[] } {
  const head = [i.tenantId, i.deadline.toISOString(), i.check ? 'true' : 'false', String(Math.max(1, Math.trunc(i.timeoutMs)))];
  return i.role
    ? { text: AS_ROLE, params: [...head, i.role, i.schema, i.tenantId, applicationName(i.traceId)] }
    : { text: BASE, params: [...head, i.schema, i.tenantId, applicationName(i.traceId)] };
}
