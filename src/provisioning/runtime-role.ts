/**
 * The runtime role of a dedicated Neon database. Neon's API makes the project's owner role a
 * member of `neon_superuser`, which bypasses row-level security and owns the tables the
 * migrations create: serving through it would leave RLS no wall at all. So the owner runs the
 * migrations, and the router gets a role made here with SQL that owns nothing, cannot bypass RLS,
 * and has USAGE on `public` and DML on its tables, nothing else. Its name is derived from the
 * tenant id (`t_` + 32 hex, as the control database requires, distinct from the owner's).
 */
import type { Client } from '@neondatabase/serverless';
import { passwordClause, scramVerifier } from '../crypto/scram.js';
import { exists } from './pg-client.js';
import { tenantIdent } from './provisioner.js';

const IDENT = /^t_[0-9a-f]{32}$/;
/** Attributes of every role the router logs in as: nothing that could bypass RLS. */
export const RUNTIME_ROLE_ATTRIBUTES = 'LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION';

/** `ALTER ROLE … CONNECTION LIMIT n` for a tenant role (`t_` + 32 hex) and a positive integer limit. */
export function connectionLimitSql(role: string, limit: number): string {
  if (!IDENT.test(role)) throw new Error('invalid role name');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new Error('connection limit must be an integer from 1 to 100000');
  return `ALTER ROLE ${role} CONNECTION LIMIT ${limit}`;
}

/** The runtime role's name for `tenantId`. */
export async function runtimeRoleName(tenantId: string): Promise<string> {
  tenantIdent(tenantId);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`tenant-router runtime role ${tenantId.toLowerCase()}`));
  return `t_${[...new Uint8Array(digest)].slice(0, 16).map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Creates `role` (or sets its new password when a retry finds it) in the database `c` is
 * connected to as its owner, and grants it USAGE on `public` and DML on its tables and sequences,
 * now and for the tables later migrations create. Only the owner's migration ledger is withheld.
 */
export async function ensureRuntimeRole(c: Client, role: string, database: string, password: string): Promise<void> {
  if (!IDENT.test(role) || !IDENT.test(database)) throw new Error('invalid role or database name');
  const secret = passwordClause(await scramVerifier(password));
  // A role without superuser may not name SUPERUSER/REPLICATION in ALTER ROLE at all; the role
  // was created with the attributes above, and the safety check after this catches any change.
  if (await exists(c, 'SELECT 1 FROM pg_roles WHERE rolname = $1', role)) await c.query(`ALTER ROLE ${role} WITH LOGIN ${secret}`);
  else await c.query(`CREATE ROLE ${role} WITH ${RUNTIME_ROLE_ATTRIBUTES} ${secret}`);
  await c.query(`GRANT CONNECT ON DATABASE ${database} TO ${role}`);
  await c.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`);
  await c.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${role}`);
  const ledger = await c.query<{ ok: boolean }>("SELECT to_regclass('public.schema_migrations') IS NOT NULL AS ok");
  if (ledger.rows[0]?.ok) await c.query(`REVOKE ALL ON public.schema_migrations FROM ${role}`);
}
