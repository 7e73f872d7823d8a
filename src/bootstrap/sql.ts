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
/** Creates the migrations' grantee as a role nobody logs in as. */
export const createGroupRoleSql = (role: string) => `CREATE ROLE ${ident(role)} WITH NOLOGIN ${SAFE}`;
/** Makes `member` inherit `group`'s rights. */
export const grantMembershipSql = (group: string, member: string) => `GRANT ${ident(group)} TO ${ident(member)}`;
/** Creates a database owned by the connected owner. */
export const createDatabaseSql = (name: string) => `CREATE DATABASE ${ident(name)}`;

/**
 * What the router's control role may do: read every control table (now and later), write its
 * usage flushes, and append edge refusals to the audit log through audit_append_edge() only.
 * The migrations grant the same to CONTROL_GRANTEE; granting here keeps a role of another name
 * exact too.
 */
export function controlGrantsSql(role: string): string[] {
  const r = ident(role);
  return [
    `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${r}`,
    `GRANT SELECT, INSERT, UPDATE ON usage_flushes TO ${r}`,
    `REVOKE EXECUTE ON FUNCTION audit_append(text, text, uuid, text, jsonb) FROM ${r}`,
    `GRANT EXECUTE ON FUNCTION audit_append_edge(text, uuid, text, text, jsonb) TO ${r}`,
  ];
}

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
