/**
 * `tenantctl bootstrap` end to end: the real CLI, in a child process, given the two workers'
 * variables as .env files for fresh databases on one of the stack's clusters (its owner is the
 * cluster's superuser here; test/bootstrap/ runs the same code as a Neon-like owner). --dry-run
 * changes nothing; a run creates everything and says so, a second one (via --env, from another
 * directory) finds everything up to date; a failure is exit 1 with one sentence and no password.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLI, collect, query, ROOT, type Run } from './support.js';

const stack = inject('stack');
const EU = 'aws-eu-central-1';
const tag = Math.random().toString(16).slice(2, 12);
const db = { ctl: `ctl_${tag}`, app: `app_${tag}` };
const roles = { control: `c_${tag}`, router: `r_${tag}` };
const passwords = { control: `pw${tag}Ctl0`, router: `pw${tag}Rtr0` };
const superUrl = stack.regions[EU]!.adminUrl;
const at = (database: string, user?: string, password?: string) => {
  const u = new URL(superUrl);
  u.pathname = `/${database}`;
  if (user) { u.username = user; u.password = password!; }
  return u.toString();
};
const sqlFiles = (set: string) => readdirSync(join(ROOT, 'migrations', set)).filter((f) => f.endsWith('.sql')).length;
const counted = (set: string, one: string, many = `${one}s`) => `${sqlFiles(set)} ${sqlFiles(set) === 1 ? one : many}`;
const dir = mkdtempSync(join(tmpdir(), 'bootstrap-cli-'));

/** tenantctl in `cwd`, without the stack file: bootstrap needs none. */
function run(args: string[], cwd = dir): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TENANTCTL_')));
  return collect(spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function writeEnv(file: string, vars: Record<string, string>) {
  writeFileSync(file, `# written by the test\n${Object.entries(vars).map(([k, v]) => `${k}='${v}'`).join('\n')}\n`);
}

const controlVars = {
  CONTROL_DATABASE_URL: at(db.ctl), REGION_ADMIN_URLS: JSON.stringify({ [EU]: at(db.app) }), ROUTER_ROLE: roles.router,
  PROVISIONER: 'local', NEON_LOCAL_ENDPOINT: stack.neonEndpoint,
};
const routerVars = {
  CONTROL_DATABASE_URL: at(db.ctl, roles.control, passwords.control),
  REGION_DATABASE_URLS: JSON.stringify({ [EU]: at(db.app, roles.router, passwords.router) }), NEON_LOCAL_ENDPOINT: stack.neonEndpoint,
};
const files = { router: join(dir, 'router.env'), control: join(dir, 'control.env') };
const secretsIn = (out: string) => [passwords.control, passwords.router, new URL(superUrl).password].filter((p) => out.includes(p));
const databases = async () => (await query(superUrl, 'SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY 1', [[db.ctl, db.app]])).map((r) => r.datname);

beforeAll(() => {
  writeEnv(files.router, routerVars);
  writeEnv(files.control, controlVars);
  mkdirSync(join(dir, '.secrets', 'staging'), { recursive: true });
  writeEnv(join(dir, '.secrets', 'staging', 'router.env'), routerVars);
  writeEnv(join(dir, '.secrets', 'staging', 'control.env'), controlVars);
});

afterAll(async () => {
  for (const d of Object.values(db)) await query(superUrl, `DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
  for (const r of [...Object.values(roles), 'control_router']) await query(superUrl, `DROP ROLE IF EXISTS ${r}`);
});

describe('tenantctl bootstrap', () => {
  it('--dry-run prints the plan, masks every password, and changes nothing', async () => {
    const r = await run(['bootstrap', '--router-env', files.router, '--control-env', files.control, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dry run: nothing is changed$/m);
    expect(r.stdout).toContain(`control database ${db.ctl} at postgres://postgres:***@`);
    expect(r.stdout).toContain(`region ${EU} database ${db.app}`);
    expect(secretsIn(r.stdout + r.stderr)).toEqual([]);
    expect(await databases()).toEqual([]);
  });

  it('creates the databases and roles, one line each, and exits 0', async () => {
    const r = await run(['bootstrap', '--router-env', files.router, '--control-env', files.control]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `control database ${db.ctl}: created (${counted('control', 'migration')} applied, ${counted('tenant', 'catalogue entry', 'catalogue entries')} added)`,
      `role ${roles.control} in control database ${db.ctl}: created (member of control_router)`,
      `role ${roles.control} in control database ${db.ctl}: verified (owns nothing, cannot bypass RLS)`,
      `region ${EU} database ${db.app}: created (shared and router schemas, ${counted('tenant', 'migration')} applied)`,
      `role ${roles.router} in region ${EU} database ${db.app}: created`,
      `role ${roles.router} in region ${EU} database ${db.app}: verified (owns nothing, cannot bypass RLS)`,
    ]);
    expect(await databases()).toEqual([db.app, db.ctl].sort());
    expect(await query(at(db.app, roles.router, passwords.router), "SELECT current_user AS u, has_table_privilege('shared.tracks', 'INSERT') AS w"))
      .toEqual([{ u: roles.router, w: true }]);
  });

  it('--env NAME reads .secrets/NAME/ from the current directory; a second run finds everything up to date', async () => {
    const r = await run(['bootstrap', '--env', 'staging']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`control database ${db.ctl}: up to date\n`);
    expect(r.stdout).toContain(`role ${roles.router} in region ${EU} database ${db.app}: up to date\n`);
    expect(r.stdout).not.toMatch(/created|updated/);
  });

  it("a new password in the router's file is set, and only it logs in afterwards", async () => {
    const file = join(dir, 'router-new.env');
    const fresh = `pw${tag}New0`;
    writeEnv(file, { ...routerVars, REGION_DATABASE_URLS: JSON.stringify({ [EU]: at(db.app, roles.router, fresh) }) });
    const r = await run(['bootstrap', '--router-env', file, '--control-env', files.control]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`role ${roles.router} in region ${EU} database ${db.app}: password updated\n`);
    expect(r.stdout + r.stderr).not.toContain(fresh);
    expect(await query(at(db.app, roles.router, fresh), 'SELECT current_user AS u')).toEqual([{ u: roles.router }]);
    await expect(query(at(db.app, roles.router, passwords.router), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  });

  it('a failure is exit 1 with one sentence, and no password in it', async () => {
    const missing = await run(['bootstrap', '--env', 'production']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot read the router variables from .*\.secrets\/production\/router\.env \(ENOENT\)\n$/);
    const badOwner = join(dir, 'bad-control.env');
    writeEnv(badOwner, { ...controlVars, CONTROL_DATABASE_URL: at(db.ctl).replace(/:[^:@/]+@/, ':wrongPassword9@') });
    const refused = await run(['bootstrap', '--router-env', files.router, '--control-env', badOwner]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^error: .*password authentication failed for user "postgres"\n$/);
    expect(secretsIn(refused.stderr)).toEqual([]);
    expect(refused.stderr).not.toContain('wrongPassword9');
  });

  it('--env and the explicit files together are a usage error (exit 2)', async () => {
    const r = await run(['bootstrap', '--env', 'staging', '--router-env', files.router]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give either --env or --router-env/--control-env');
  });
});
