/**
 * The router's roles, on a client connected as the database's owner. Whether a password is up to
 * date is learnt the only way an owner that is not a superuser can (pg_authid is closed to it):
 * by logging in with the router's own URL. The password is only ever sent as a SCRAM verifier.
 */
import type { Client } from '@neondatabase/serverless';
import { scramVerifier } from '../crypto/scram.js';
import { exists, withClient } from '../provisioning/pg-client.js';
import { createGroupRoleSql, createLoginRoleSql, disableLoginSql, grantMembershipSql, setPasswordSql, VERIFY_ROLE_SQL } from './sql.js';
import { siblingOf, type DatabaseTarget, type RoleSpec } from './targets.js';

/** What the bootstrap did to a role or database. */
export type Outcome = 'created' | 'updated' | 'up to date' | 'password updated' | 'left as it is (not safe)' | 'login disabled';

const PROBE_LIMITS = { connectTimeoutMs: 10_000, statementTimeoutMs: 10_000 };

/** Creates `role` or brings its password in line with `routerUrl`; then proves the router can log in. */
export async function ensureLoginRole(c: Client, role: RoleSpec, routerUrl: string): Promise<Outcome> {
  let outcome: Outcome;
  if (!(await roleExists(c, role.name))) {
    await c.query(createLoginRoleSql(role.name, await scramVerifier(role.password)));
    outcome = 'created';
  } else if ((await loginError(routerUrl)) === null) {
    return 'up to date';
  } else if (await unsafeReason(c, role.name)) {
    // An existing role that could bypass RLS or owns something (a shared or privileged role named
    // by mistake) never gets its password changed to the router's: the verification reports it.
    return 'left as it is (not safe)';
  } else {
    await c.query(setPasswordSql(role.name, await scramVerifier(role.password)));
    outcome = 'password updated';
  }
  const why = await loginError(routerUrl);
  if (why !== null) throw new Error(`role ${role.name} cannot log in with the router's URL: ${why}`);
  return outcome;
}

/** Creates the NOLOGIN role `group` when missing and makes `member` a member; whether anything changed. */
export async function ensureMembership(c: Client, group: string, member: string): Promise<boolean> {
  let changed = false;
  if (!(await roleExists(c, group))) {
    await c.query(createGroupRoleSql(group));
    changed = true;
  }
  const { rows } = await c.query<{ ok: boolean }>("SELECT pg_has_role($1::name, $2::name, 'USAGE') AS ok", [member, group]);
  if (!rows[0]?.ok) {
    await c.query(grantMembershipSql(group, member));
    changed = true;
  }
  return changed;
}

/** Why `role` is not safe to serve the router in the connected database, or null. */
export async function unsafeReason(c: Client, role: string): Promise<string | null> {
  return (await c.query<{ why: string | null }>(VERIFY_ROLE_SQL, [role])).rows[0]?.why ?? null;
}

/** Whether `role` exists in the cluster. */
export const roleExists = (c: Client, role: string): Promise<boolean> => exists(c, 'SELECT 1 FROM pg_roles WHERE rolname = $1', role);

/** Null when `url` logs in, else PostgreSQL's message (never the URL). */
async function loginError(url: string): Promise<string | null> {
  try {
    await withClient(url, async (c) => { await c.query('SELECT 1'); }, PROBE_LIMITS);
    return null;
  } catch (err) {
    return String((err as Error)?.message ?? err).slice(0, 200);
  }
}

/**
 * After a rotation is deployed: the login roles of `t` other than the one its URL names (the
 * pair's sibling, and the group itself when it was the single login role of an install before the
 * pair) may no longer log in. They keep their memberships and own nothing, so the next rotation
 * only sets a password and LOGIN again. The names it disabled.
 */
export async function retireIdleLogins(c: Client, t: Pick<DatabaseTarget, 'role' | 'group'>): Promise<string[]> {
  const sibling = siblingOf(t);
  if (sibling === null) return [];
  const done: string[] = [];
  for (const name of [sibling, t.group]) {
    const { rows } = await c.query<{ login: boolean }>('SELECT rolcanlogin AS login FROM pg_roles WHERE rolname = $1', [name]);
    if (!rows[0]?.login) continue;
    await c.query(disableLoginSql(name));
    done.push(name);
  }
  return done;
}
