/**
 * The bootstrap's SQL text (pure). Written for an owner that is not a superuser (Neon's
 * `neondb_owner`: CREATEROLE and CREATEDB, a member of `neon_superuser`): CREATE ROLE may say
 * NOSUPERUSER/NOBYPASSRLS/NOREPLICATION, but ALTER ROLE may not name those at all, so an
 * existing role only gets its password; the verification (VERIFY_ROLE_SQL) catches any other
 * difference. Role names are validated identifiers; passwords arrive as SCRAM verifiers.
 */
import { passwordClause } from '../crypto/scram.js';
import { unsafeReasonQuery } from '../data/router-schema.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** The grantee the control migrations name (0004, 0005); the router's control role is it or a member of it. */
export const CONTROL_GRANTEE = 'control_router';

/** Attributes of a role that serves the router: it can bypass nothing. */
const SAFE = 'NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION';

/** `name`, checked to be a plain lower-case identifier (it is spliced into DDL). */
export function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error('invalid identifier');
  return name;
}

/** Creates a login role that cannot bypass RLS, with a SCRAM verifier. */
export const createLoginRoleSql = (role: string, verifier: string) => `CREATE ROLE ${ident(role)} WITH LOGIN ${SAFE} ${passwordClause(verifier)}`;
/** Sets a login role's password (and LOGIN), touching no other attribute. */
export const setPasswordSql = (role: string, verifier: string) => `ALTER ROLE ${ident(role)} WITH LOGIN ${passwordClause(verifier)}`;
/** Takes a login role's LOGIN and password away (the idle one of a rotated pair). */
export const disableLoginSql = (role: string) => `ALTER ROLE ${ident(role)} WITH NOLOGIN PASSWORD NULL`;
/** Creates the migrations' grantee as a role nobody logs in as. */
export const createGroupRoleSql = (role: string) => `CREATE ROLE ${ident(role)} WITH NOLOGIN ${SAFE}`;
/** Makes `member` inherit `group`'s rights. */
export const grantMembershipSql = (group: string, member: string) => `GRANT ${ident(group)} TO ${ident(member)}`;
/** Creates a database owned by the connected owner. */
export const createDatabaseSql = (name: string) => `CREATE DATABASE ${ident(name)}`;

/** The control tables the router reads (src/tenancy/control-store.ts), and usage_flushes, which it also writes. */
export const ROUTER_CONTROL_READS = ['tiers', 'tenants', 'tenant_domains', 'tenant_jwt', 'tenant_geo', 'tenant_placements', 'tenant_storage', 'usage_flushes', 'tenant_keys'] as const;
/** The one control table the router writes (SELECT, INSERT, UPDATE: its usage upsert). */
export const ROUTER_CONTROL_WRITES = ['usage_flushes'] as const;

/**
 * What the router's control role may do: read the tables it resolves tenants from, write its
 * usage flushes, and append edge refusals to the audit log through audit_append_edge() only;
 * nothing else: not the audit log, idempotency keys, outbox, archive or catalogue. Everything is
 * revoked first, so a database bootstrapped by an earlier version (SELECT on all tables, and by
 * default on future ones) is brought down to exactly this. A table the router needs later is
 * added to ROUTER_CONTROL_READS. The migrations grant the same to CONTROL_GRANTEE; granting here
 * keeps a role of another name exact too.
 */
export function controlGrantsSql(role: string): string[] {
  const r = ident(role);
  return [
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM ${r}`,
    `GRANT SELECT ON ${ROUTER_CONTROL_READS.join(', ')} TO ${r}`,
    `GRANT SELECT, INSERT, UPDATE ON ${ROUTER_CONTROL_WRITES.join(', ')} TO ${r}`,
    `REVOKE EXECUTE ON FUNCTION audit_append(text, text, uuid, text, jsonb) FROM ${r}`,
    `GRANT EXECUTE ON FUNCTION audit_append_edge(text, uuid, text, text, jsonb) TO ${r}`,
    // The router creates the data key of a tenant made before migration 0013 through this only (src/tenant-keys/).
    `GRANT EXECUTE ON FUNCTION tenant_key_ensure(uuid, text) TO ${r}`,
  ];
}

/**
 * The control tables role $1 may read or write beyond what the router needs ($2: the tables it
 * reads, $3: the ones it writes), by any path (a grant, a group such as pg_read_all_data), as
 * one comma-separated text; empty when none.
 */
export const EXCESS_CONTROL_PRIVILEGES_SQL = `SELECT coalesce(string_agg(c.relname, ', ' ORDER BY c.relname), '') AS excess
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND ((has_table_privilege($1::name, c.oid, 'SELECT') AND NOT c.relname = ANY($2::text[]))
     OR (has_table_privilege($1::name, c.oid, 'INSERT,UPDATE') AND NOT c.relname = ANY($3::text[]))
     OR has_table_privilege($1::name, c.oid, 'DELETE,TRUNCATE,REFERENCES,TRIGGER'))`;

/** The shared schema of row tenants, before its migrations: the router gets DML on its tables. */
export function sharedSchemaSql(role: string): string[] {
  const r = ident(role);
  return [
    // Nobody but the owner creates anything in public (PostgreSQL < 15 lets everyone).
    'REVOKE ALL ON SCHEMA public FROM PUBLIC',
    'CREATE SCHEMA IF NOT EXISTS shared',
    `GRANT USAGE ON SCHEMA shared TO ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA shared GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r}`,
  ];
}

/** After the migrations: DML on what they created, but not on the migration ledger. */
export function sharedGrantsSql(role: string): string[] {
  const r = ident(role);
  return [
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shared TO ${r}`,
    `REVOKE ALL ON shared.schema_migrations FROM ${r}`,
  ];
}

/**
 * Why role $1 may not serve tenants in this database, or NULL: the rule of router.unsafe_reason
 * (src/data/router-schema.ts), as a plain query, since the control database has no router schema.
 * Unsafe: it or any role it is a member of is a superuser, bypasses RLS, may create roles or
 * databases, or owns this database, a schema, a relation or a function here.
 */
export const VERIFY_ROLE_SQL = `SELECT (${unsafeReasonQuery('$1::name')}) AS why`;
