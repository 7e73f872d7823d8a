/**
 * The `router` schema: a fence table and the function every tenant transaction calls first, in
 * every database the router uses (each region's shared database, each dedicated one). Pure text
 * and constants, shared by the router (which calls `router.enter`) and the provisioners (which
 * install the schema, fence tenants and check roles), so the two sides cannot drift apart.
 *
 * `router.enter(tenant, deadline, check)`, with the version of the router's record of the tenant in
 * the transaction-local setting `router.tenant_version` (set just before it in the same statement;
 * a setting rather than an argument, so routers and databases of either age work together):
 *   1. refuses a transaction whose request deadline has passed (TR003): a request queued while
 *      the database was unreachable never runs late;
 *   2. takes the tenant's advisory lock in shared mode, so deprovisioning (which takes it
 *      exclusively before fencing) waits for transactions in flight and new ones wait for it;
 *   3. refuses a fenced tenant (TR001);
 *   4. with `check`, refuses to serve through a role that could bypass row-level security (TR002);
 *   5. makes the transaction READ ONLY while the tenant's writes are fenced (its data is moving,
 *      src/moves/): reads are served, a write fails with 25006, answered 503 TENANT_MIGRATING.
 *      Fenced either by a row in `router.write_fences` (durable: a source left behind by a move)
 *      or by a session holding the tenant's write lock exclusively (the mover, for the seconds of
 *      a move's final copy): a lock, unlike a row, is seen whatever the transaction's snapshot, and
 *      taking it exclusively waits for every read-write transaction of the tenant in flight;
 *   6. refuses a router that sends the tenant's record older than its placement's floor (TR004):
 *      a move switched the tenant to another placement at that version, and a router still holding
 *      the old record (its cache) must not read or write the placement the tenant left. The floor
 *      is per tenant, so it holds where source and target share one database (row ⇄ schema).
 *
 * `router.verify(tenant, role, search_path)` runs after the application's statements, before
 * COMMIT: it refuses (TR005) a transaction whose isolation settings are no longer those the setup
 * applied (the tenant setting, the current role, the search path), so a statement that changed
 * them, whatever its spelling, has the whole transaction rolled back. It runs as whatever role the
 * transaction has become (the tenant's, or any other a statement switched to), hence EXECUTE and
 * the schema's USAGE for PUBLIC: it reads nothing and can only refuse.
 */

/** First key of the tenants' advisory locks (the second is `hashtext(tenant id)`). */
export const FENCE_LOCK_CLASS = 7301;
/** First key of the tenants' write-fence locks (the second is `hashtext(tenant id)`). */
export const WRITE_FENCE_LOCK_CLASS = 7302;
/** SQLSTATE raised for a fenced (deleted) tenant. */
export const SQLSTATE_FENCED = 'TR001';
/** SQLSTATE raised when the serving role could bypass row-level security. */
export const SQLSTATE_UNSAFE_ROLE = 'TR002';
/**
 * SQLSTATE raised when a transaction starts after its request's deadline: the database (or the
 * way to it) was late, which the target's circuit breaker counts, unlike a tenant's own statement
 * timeout (57014), which it does not. A class of its own, so nothing has to read message text.
 */
export const SQLSTATE_DEADLINE_PASSED = 'TR003';
/** SQLSTATE raised for a router whose record of the tenant predates its current placement. */
export const SQLSTATE_STALE_PLACEMENT = 'TR004';
/** SQLSTATE raised when the isolation settings were changed after the setup applied them. */
export const SQLSTATE_ISOLATION_CHANGED = 'TR005';

/**
 * The query saying why `role` (an SQL expression of type name) is not safe to serve tenants
 * through, or NULL; router.unsafe_reason() wraps it, the bootstrap runs it where there is no
 * router schema (the control database). Unsafe: it, or any role it is a
 * member of (it could SET ROLE to it), is a superuser, bypasses RLS, may create roles or databases,
 * or owns this database, a schema, a relation or a function here (an owner can switch RLS off).
 */
export const unsafeReasonQuery = (role: string): string => `
  WITH reach AS (
    SELECT oid, rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_catalog.pg_roles
     WHERE pg_catalog.pg_has_role(${role}, oid, 'MEMBER'))
  SELECT coalesce(
    (SELECT pg_catalog.format('role %I is a superuser', rolname) FROM reach WHERE rolsuper LIMIT 1),
    (SELECT pg_catalog.format('role %I bypasses row-level security', rolname) FROM reach WHERE rolbypassrls LIMIT 1),
    (SELECT pg_catalog.format('role %I may create roles or databases', rolname) FROM reach WHERE rolcreaterole OR rolcreatedb LIMIT 1),
    (SELECT pg_catalog.format('role %I owns database %I', r.rolname, d.datname) FROM pg_catalog.pg_database d
       JOIN reach r ON r.oid = d.datdba WHERE d.datname = pg_catalog.current_database()),
    (SELECT pg_catalog.format('role %I owns schema %I', r.rolname, n.nspname) FROM pg_catalog.pg_namespace n
       JOIN reach r ON r.oid = n.nspowner LIMIT 1),
    (SELECT pg_catalog.format('role %I owns %s', r.rolname, c.oid::regclass) FROM pg_catalog.pg_class c
       JOIN reach r ON r.oid = c.relowner LIMIT 1),
    (SELECT pg_catalog.format('role %I owns function %s', r.rolname, p.oid::regprocedure) FROM pg_catalog.pg_proc p
       JOIN reach r ON r.oid = p.proowner LIMIT 1))`;

const UNSAFE_REASON = `
CREATE OR REPLACE FUNCTION router.unsafe_reason(p_role name) RETURNS text LANGUAGE sql STABLE AS $fn$${unsafeReasonQuery('p_role')}
$fn$`;

// SECURITY INVOKER on purpose: it runs as the router's login role (it is called before any SET
// ROLE), which is what `session_user` names and what the grants below allow.
const ENTER = `
CREATE OR REPLACE FUNCTION router.enter(p_tenant uuid, p_deadline timestamptz, p_check boolean) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_version bigint := nullif(pg_catalog.current_setting('router.tenant_version', true), '')::bigint;
  v_left_ms numeric := extract(epoch FROM p_deadline - pg_catalog.clock_timestamp()) * 1000;
  v_why text;
BEGIN
  IF v_left_ms IS NULL OR v_left_ms <= 0 THEN
    RAISE EXCEPTION 'request deadline passed before the transaction ran' USING ERRCODE = '${SQLSTATE_DEADLINE_PASSED}';
  END IF;
  -- The lock wait below is bounded by what is left of the request's time (55P03 when it runs out).
  PERFORM pg_catalog.set_config('lock_timeout', pg_catalog.ceil(v_left_ms)::bigint::text, true);
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(${FENCE_LOCK_CLASS}, pg_catalog.hashtext(p_tenant::text));
  IF EXISTS (SELECT 1 FROM router.fences WHERE tenant_id = p_tenant) THEN
    RAISE EXCEPTION 'tenant % no longer exists', p_tenant USING ERRCODE = '${SQLSTATE_FENCED}';
  END IF;
  IF v_version IS NOT NULL AND EXISTS (SELECT 1 FROM router.placement_floors WHERE tenant_id = p_tenant AND min_version > v_version) THEN
    RAISE EXCEPTION 'tenant % has moved since version %', p_tenant, v_version USING ERRCODE = '${SQLSTATE_STALE_PLACEMENT}';
  END IF;
  IF EXISTS (SELECT 1 FROM router.write_fences WHERE tenant_id = p_tenant)
     OR NOT pg_catalog.pg_try_advisory_xact_lock_shared(${WRITE_FENCE_LOCK_CLASS}, pg_catalog.hashtext(p_tenant::text)) THEN
    PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
  END IF;
  IF p_check THEN
    v_why := router.unsafe_reason(session_user);
    IF v_why IS NOT NULL THEN
      RAISE EXCEPTION 'the serving role is not safe: %', v_why USING ERRCODE = '${SQLSTATE_UNSAFE_ROLE}';
    END IF;
  END IF;
END
$fn$`;

// Everything schema-qualified and compared with pg_catalog's own operator: the search path may be
// exactly what a statement changed. No SET clause: it would change the very settings it reads.
const VERIFY = `
CREATE OR REPLACE FUNCTION router.verify(p_tenant text, p_role name, p_path text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF (COALESCE(pg_catalog.current_setting('app.tenant_id', true), '') OPERATOR(pg_catalog.=) p_tenant
      AND pg_catalog.current_setting('search_path') OPERATOR(pg_catalog.=) p_path
      AND (CURRENT_USER)::text OPERATOR(pg_catalog.=) (COALESCE(p_role, SESSION_USER))::text) IS NOT TRUE THEN
    RAISE EXCEPTION 'the transaction''s isolation settings were changed by one of its statements' USING ERRCODE = '${SQLSTATE_ISOLATION_CHANGED}';
  END IF;
END
$fn$`;

/** Creates or updates the `router` schema's objects; idempotent, run by the database's owner. */
export const ROUTER_SCHEMA_SQL = [
  'CREATE SCHEMA IF NOT EXISTS router',
  'REVOKE ALL ON SCHEMA router FROM PUBLIC',
  `CREATE TABLE IF NOT EXISTS router.fences (
     tenant_id uuid PRIMARY KEY,
     reason    text NOT NULL,
     at        timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS router.placement_floors (
     tenant_id   uuid PRIMARY KEY,
     min_version bigint NOT NULL,
     at          timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS router.write_fences (
     tenant_id uuid PRIMARY KEY,
     reason    text NOT NULL,
     at        timestamptz NOT NULL DEFAULT now())`,
  UNSAFE_REASON,
  'REVOKE ALL ON FUNCTION router.unsafe_reason(name) FROM PUBLIC',
  ENTER,
  'REVOKE ALL ON FUNCTION router.enter(uuid, timestamptz, boolean) FROM PUBLIC',
  VERIFY,
  'GRANT USAGE ON SCHEMA router TO PUBLIC',
  'GRANT EXECUTE ON FUNCTION router.verify(text, name, text) TO PUBLIC',
].join(';\n');

/** The newest function of the schema: a database without it gets the schema (re)installed. */
export const ROUTER_SCHEMA_PROBE = 'router.verify(text,name,text)';

/** What the serving role needs of the schema: nothing more than calling `enter`. */
export function routerGrantsSql(role: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error('invalid role name');
  return [
    `GRANT USAGE ON SCHEMA router TO ${role}`,
    `GRANT SELECT ON router.fences, router.write_fences, router.placement_floors TO ${role}`,
    `GRANT EXECUTE ON FUNCTION router.enter(uuid, timestamptz, boolean), router.unsafe_reason(name) TO ${role}`,
  ].join(';\n');
}
