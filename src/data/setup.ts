/**
 * The first statement of every tenant transaction (pure). `router.enter` comes first in the
 * target list (after the one setting it reads, the version of the router's record of the tenant),
 * so it runs as the router's login role, before `role` changes (schema tenants), and
 * a fenced, late or unsafe target is refused before anything else happens. The rest is
 * transaction-local: the server-side timeouts, the search path (the one schema, then pg_temp),
 * the tenant setting. The same statement opens a `query`, a `batch` and a `transaction`. Values travel as bound parameters; nothing is spliced into the SQL.
 */

export interface SetupInput {
  tenantId: string;
  /** The version of the tenant's record the router holds: router.enter refuses it once the tenant moved at a later one. */
  version?: number;
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
  /**
   * Interactive transactions: idle_in_transaction_session_timeout, in milliseconds, so the server
   * ends a session whose client went quiet inside the transaction.
   */
  idleMs?: number;
  /** The request's W3C trace id: the session's application_name says it (pg_stat_activity, logs with %a). */
  traceId?: string;
}

const TRACE_ID = /^[0-9a-f]{32}$/;

/** `tenant-router` and, when there is one, the trace: `tenant-router trace=<32 hex>` (63 bytes at most, as PostgreSQL keeps). */
const applicationName = (traceId?: string) => (traceId && TRACE_ID.test(traceId) ? `tenant-router trace=${traceId}` : 'tenant-router');

/** The search path of a tenant transaction: its one schema, then pg_temp. */
const searchPath = (schema: string) => `${schema}, pg_temp`;

/** The setup statement and its parameters. */
export function tenantSetup(i: SetupInput): { text: string; params: unknown[] } {
  const ms = (v: number) => String(Math.max(1, Math.trunc(v)));
  // pg_temp last: a temporary table left in a pooled session by anyone can never shadow the tenant's tables.
  const settings: [string, string][] = [
    ['statement_timeout', ms(i.timeoutMs)],
    ...(i.idleMs === undefined ? [] : [['idle_in_transaction_session_timeout', ms(i.idleMs)] as [string, string]]),
    ...(i.role ? [['role', i.role] as [string, string]] : []),
    ['search_path', searchPath(i.schema)],
    ['app.tenant_id', i.tenantId],
    ['application_name', applicationName(i.traceId)],
  ];
  const calls = settings.map(([name], k) => `set_config('${name}', $${k + 5}, true)`);
  // router.tenant_version first: router.enter reads it (the target list is evaluated left to right).
  return {
    text: `SELECT set_config('router.tenant_version', $4, true), router.enter($1, $2, $3), ${calls.join(', ')}`,
    params: [i.tenantId, i.deadline.toISOString(), i.check ? 'true' : 'false', i.version === undefined ? '' : String(i.version), ...settings.map(([, v]) => v)],
  };
}

/**
 * The statement that closes every tenant transaction before COMMIT: `router.verify` refuses
 * (TR005) unless the tenant setting, the current role and the search path are still what
 * `tenantSetup` applied for `i`, so a statement that changed them has the transaction rolled back.
 */
export function tenantVerify(i: Pick<SetupInput, 'tenantId' | 'schema' | 'role'>): { text: string; params: unknown[] } {
  return { text: 'SELECT router.verify($1, $2, $3)', params: [i.tenantId, i.role, searchPath(i.schema)] };
}
