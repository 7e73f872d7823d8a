/**
 * The routers' database URLs, composed from the owner URLs an operator gives: the same host,
 * database and options, with the router's own role and a generated password. The roles are made
 * by `tenantctl bootstrap` from these very URLs, so the password exists in one place only.
 */

/** The router's role on the control database (SELECT, usage writes, audit_append_edge()). */
export const CONTROL_ROUTER_ROLE = 'control_router';
/** The router's role on every region's shared database (RLS applies to it; it owns nothing). */
export const REGION_ROUTER_ROLE = 'app_router';

/** A refusal of the operator's input, one sentence. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** Checks an owner URL (postgres scheme, user, password, host, database); `what` names it in the refusal. */
export function checkOwnerUrl(what: string, url: string): string {
  let u: URL;
  try { u = new URL(url); } catch { throw new InputError(`${what} is not a URL`); }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new InputError(`${what} must be a postgres:// URL`);
  if (!u.username || !u.password) throw new InputError(`${what} must name the owner role and its password`);
  if (!u.hostname) throw new InputError(`${what} has no host`);
  if (!/^\/[^/]+$/.test(u.pathname)) throw new InputError(`${what} must name its database (…/app, …/control)`);
  return url;
}

/** `owner` with `role` and `password` in place of the owner's credentials. */
export function withRole(owner: string, role: string, password: string): string {
  const u = new URL(owner);
  u.username = role;
  u.password = password;
  return u.href;
}

/**
 * The login role of `group` that `url` names (the group itself, as written before the pair, or
 * `<group>_a` / `<group>_b`), and its password; undefined when `url` is not one of `group`'s.
 */
export function loginOf(url: string | undefined, group: string): { role: string; password: string } | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    const role = decodeURIComponent(u.username);
    if (![group, `${group}_a`, `${group}_b`].includes(role) || !u.password) return undefined;
    return { role, password: decodeURIComponent(u.password) };
  } catch {
    return undefined;
  }
}

/**
 * The login role a rotation moves to: the idle one of the pair (`_a` ↔ `_b`); the first rotation of
 * an install with the single role `group` moves to `<group>_a`. Its password is set by `tenantctl
 * bootstrap` while the deployed router still logs in as the other, which keeps working until
 * `tenantctl bootstrap --retire-idle` after the deploy.
 */
export function nextLogin(current: string | undefined, group: string): string {
  return current === `${group}_a` ? `${group}_b` : `${group}_a`;
}

/** The password in `url` when it is one of `group`'s login roles' URL (a router URL written earlier), else undefined. */
export function passwordOf(url: string | undefined, group: string): string | undefined {
  return loginOf(url, group)?.password;
}

/** A JSON object of region → URL (absent or unreadable: empty). */
export function parseUrlMap(json: string | undefined): Record<string, string> {
  if (!json) return {};
  try {
    const v = JSON.parse(json) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}
