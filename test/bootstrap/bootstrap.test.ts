/**
 * The bootstrap (src/bootstrap/) on fresh, empty databases of a stack cluster, run as a Neon-like
 * owner that is not a superuser: the roles it makes are safe and least-privileged, the system works
 * on what it prepared (a row and a schema tenant provisioned, the router reading only through RLS),
 * a second run changes nothing, a new password in the router's URL replaces the old one, and a
 * role made unsafe fails the verification.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, formatReport, type BootstrapReport } from '../../src/bootstrap/index.js';
import { randomPassword } from '../../src/crypto/scram.js';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import { withClient } from '../../src/provisioning/pg-client.js';
import { sqlAt, stack } from '../support/helpers.js';
import { EU, freshTarget, MIGRATIONS, type Fresh } from './fresh.js';

let f: Fresh;
let first: BootstrapReport;
const outcomes = (r: BootstrapReport) => r.lines.map((l) => `${l.kind} ${l.name}: ${l.outcome}`);
const canLogin = (url: string) => withClient(url, async (c) => { await c.query('SELECT 1'); }, { connectTimeoutMs: 5000 }).then(() => true, () => false);

beforeAll(async () => {
  f = await freshTarget();
  first = await bootstrap(f.env, MIGRATIONS);
}, 60_000);
afterAll(async () => { await f?.drop(); });

describe('bootstrap on empty databases (a Neon-like owner)', () => {
  it('creates both databases and both roles, and verifies them', () => {
    expect(outcomes(first)).toEqual([
      `database ${f.names.ctl}: created`, `role ${f.controlRole}: created`, `verify ${f.controlRole}: safe`,
      `database ${f.names.app}: created`, `role ${f.routerRole}: created`, `verify ${f.routerRole}: safe`,
    ]);
    expect(first).toMatchObject({ ok: true, changed: true });
    expect(formatReport(first).join('\n')).not.toContain('@');
  });

  it('makes login roles that can bypass nothing and own nothing', async () => {
    const rows = await sqlAt(f.superUrl).query(
      `SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication FROM pg_roles
        WHERE rolname = ANY($1) ORDER BY rolname`, [[f.controlRole, f.routerRole]]);
    expect(rows).toEqual([f.controlRole, f.routerRole].sort().map((rolname) => ({
      rolname, rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false,
    })));
    for (const db of ['ctl', 'app'] as const) {
      const owned = await sqlAt(f.ownerUrl(db)).query(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = ANY($1)`, [[f.controlRole, f.routerRole]]);
      expect(owned).toEqual([{ n: 0 }]);
    }
  });

  it("grants the router's control role reads, usage writes and audit_append_edge() only", async () => {
    const [p] = await sqlAt(f.ownerUrl('ctl')).query(`SELECT
        has_table_privilege($1, 'tenants', 'SELECT') AS read_tenants, has_table_privilege($1, 'tenants', 'INSERT') AS write_tenants,
        has_table_privilege($1, 'tenant_placements', 'SELECT') AS read_placements, has_table_privilege($1, 'audit_log', 'INSERT') AS write_audit,
        has_table_privilege($1, 'usage_flushes', 'INSERT') AS write_usage, has_table_privilege($1, 'usage_flushes', 'DELETE') AS delete_usage,
        has_function_privilege($1, 'audit_append_edge(text, uuid, text, text, jsonb)', 'EXECUTE') AS edge_audit,
        has_function_privilege($1, 'audit_append(text, text, uuid, text, jsonb)', 'EXECUTE') AS full_audit,
        (SELECT array_agg(name ORDER BY name) FROM tenant_migration_catalog) AS catalogue`, [f.controlRole]);
    expect(p).toEqual({
      read_tenants: true, write_tenants: false, read_placements: true, write_audit: false, write_usage: true, delete_usage: false,
      edge_audit: true, full_audit: false, catalogue: MIGRATIONS.tenant.map((m) => m.name),
    });
  });

  it("the router's control role reads only what it resolves tenants from: not the audit log, idempotency keys, outbox or catalogue", async () => {
    const readable = await sqlAt(f.ownerUrl('ctl')).query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND has_table_privilege($1::name, c.oid, 'SELECT') ORDER BY c.relname`, [f.controlRole]) as { relname: string }[];
    expect(readable.map((r) => r.relname)).toEqual(['tenant_domains', 'tenant_geo', 'tenant_jwt', 'tenant_keys', 'tenant_placements', 'tenant_storage', 'tenants', 'tiers', 'usage_flushes']);
    // A table made by a later migration is not readable by default either.
    await sqlAt(f.ownerUrl('ctl')).query('CREATE TABLE later_table (x int)');
    try {
      expect(await sqlAt(f.ownerUrl('ctl')).query(`SELECT has_table_privilege($1::name, 'later_table', 'SELECT') AS r`, [f.controlRole])).toEqual([{ r: false }]);
    } finally {
      await sqlAt(f.ownerUrl('ctl')).query('DROP TABLE later_table');
    }
  });

  it('brings a role of an earlier bootstrap (SELECT on every table, now and later) down to its reads', async () => {
    const owner = sqlAt(f.ownerUrl('ctl'));
    await owner.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${f.controlRole}`);
    await owner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${f.controlRole}`);
    const r = await bootstrap(f.env, MIGRATIONS);
    expect(r.lines.find((l) => l.kind === 'verify' && l.name === f.controlRole)).toMatchObject({ outcome: 'safe' });
    const [p] = await owner.query(`SELECT has_table_privilege($1::name, 'audit_log', 'SELECT') AS audit, has_table_privilege($1::name, 'idempotency_keys', 'SELECT') AS keys,
      (SELECT count(*)::int FROM pg_default_acl d WHERE d.defaclacl::text LIKE '%' || $1 || '=%') AS defaults`, [f.controlRole]);
    expect(p).toEqual({ audit: false, keys: false, defaults: 0 });
  });

  it("the verification reports a control role that can read more than the router needs, by any grant", async () => {
    await sqlAt(f.superUrl).query(`GRANT pg_read_all_data TO ${f.controlRole}`);
    try {
      const r = await bootstrap(f.env, MIGRATIONS);
      expect(r.ok).toBe(false);
      const line = r.lines.find((l) => l.kind === 'verify' && l.name === f.controlRole)!;
      expect(line.outcome).toBe('unsafe');
      expect(line.detail).toMatch(new RegExp(`^role ${f.controlRole} may read or write control tables the router does not use: .*audit_log.*idempotency_keys`));
      expect(formatReport(r).join('\n')).toContain('NOT SAFE');
    } finally {
      await sqlAt(f.superUrl).query(`REVOKE pg_read_all_data FROM ${f.controlRole}`);
    }
    expect((await bootstrap(f.env, MIGRATIONS)).ok).toBe(true);
  });

  it('the shared database has RLS forced, DML for the router, and no ledger rights', async () => {
    const [p] = await sqlAt(f.ownerUrl('app')).query(`SELECT
        (SELECT relforcerowsecurity AND relrowsecurity FROM pg_class WHERE oid = 'shared.tracks'::regclass) AS forced,
        has_table_privilege($1, 'shared.tracks', 'INSERT') AS write_tracks,
        has_table_privilege($1, 'shared.schema_migrations', 'SELECT') AS read_ledger,
        has_schema_privilege($1, 'public', 'CREATE') AS create_public,
        has_function_privilege($1, 'router.enter(uuid, timestamptz, boolean)', 'EXECUTE') AS enter`, [f.routerRole]);
    expect(p).toEqual({ forced: true, write_tracks: true, read_ledger: false, create_public: false, enter: true });
  });

  it('the system works on it: row and schema tenants provisioned, the router sees a tenant only through RLS', async () => {
    const p = new LocalProvisioner({
      regions: { [EU]: { adminUrl: f.ownerUrl('app') } }, routerRole: f.routerRole, masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
    });
    const [a, b, s] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const id of [a, b]) await p.provision({ tenantId: id, region: EU, isolation: 'row', migrations: MIGRATIONS.tenant });
    const schema = await p.provision({ tenantId: s, region: EU, isolation: 'schema', migrations: MIGRATIONS.tenant });
    const router = sqlAt(f.routerUrl('app'));
    const as = (tenant: string, text: string) => router.transaction([
      router.query("SELECT router.enter($1, now() + interval '5 seconds', true)", [tenant]),
      router.query("SELECT set_config('app.tenant_id', $1, true), set_config('search_path', 'shared', true)", [tenant]), router.query(text)]);
    await as(a, "INSERT INTO tracks (title, artist, duration_ms) VALUES ('Song', 'Band', 1000)");
    const seen = async (tenant: string) => ((await as(tenant, 'SELECT title FROM tracks'))[2] as unknown[]).length;
    expect([await seen(a), await seen(b)]).toEqual([1, 0]);
    expect(await router.query('SELECT count(*)::int AS n FROM shared.tracks')).toEqual([{ n: 0 }]);
    // The schema tenant: the router may SET ROLE to its role, as the data layer does.
    const inSchema = await router.transaction([
      router.query(`SET LOCAL ROLE ${schema.roleName}`), router.query(`SET LOCAL search_path = ${schema.schemaName}`),
      router.query("SELECT set_config('app.tenant_id', $1, true)", [s]),
      router.query("INSERT INTO tracks (title, artist, duration_ms) VALUES ('Own', 'Band', 1) RETURNING title")]);
    expect(inSchema[3]).toEqual([{ title: 'Own' }]);
    await p.deprovision(s, schema);
  });

  it('a second run changes nothing and says so', async () => {
    const again = await bootstrap(f.env, MIGRATIONS);
    expect(outcomes(again)).toEqual([
      `database ${f.names.ctl}: up to date`, `role ${f.controlRole}: up to date`, `verify ${f.controlRole}: safe`,
      `database ${f.names.app}: up to date`, `role ${f.routerRole}: up to date`, `verify ${f.routerRole}: safe`,
    ]);
    expect(again).toMatchObject({ ok: true, changed: false });
  });

  it("a new password in the router's URL replaces the old one", async () => {
    const fresh = randomPassword();
    const env = { ...f.env, router: { ...f.env.router, REGION_DATABASE_URLS: JSON.stringify({ [EU]: f.routerUrl('app', fresh) }) } };
    const r = await bootstrap(env, MIGRATIONS);
    expect(outcomes(r)).toContain(`role ${f.routerRole}: password updated`);
    expect(outcomes(r)).toContain(`role ${f.controlRole}: up to date`);
    expect(await canLogin(f.routerUrl('app', fresh))).toBe(true);
    expect(await canLogin(f.routerUrl('app'))).toBe(false);
    // Back to the first password for the tests that follow.
    expect(outcomes(await bootstrap(f.env, MIGRATIONS))).toContain(`role ${f.routerRole}: password updated`);
  });

  it("an existing unsafe role never gets the router's password: it is left as it is and reported", async () => {
    await sqlAt(f.superUrl).query(`ALTER ROLE ${f.routerRole} CREATEDB`);
    try {
      const fresh = randomPassword();
      const env = { ...f.env, router: { ...f.env.router, REGION_DATABASE_URLS: JSON.stringify({ [EU]: f.routerUrl('app', fresh) }) } };
      const r = await bootstrap(env, MIGRATIONS);
      expect(outcomes(r)).toContain(`role ${f.routerRole}: left as it is (not safe)`);
      expect(outcomes(r)).toContain(`verify ${f.routerRole}: unsafe`);
      expect(r.ok).toBe(false);
      expect(await canLogin(f.routerUrl('app', fresh))).toBe(false);
      expect(await canLogin(f.routerUrl('app'))).toBe(true);
    } finally {
      await sqlAt(f.superUrl).query(`ALTER ROLE ${f.routerRole} NOCREATEDB`);
    }
  });

  it('a role made unsafe fails the verification, naming why, and is not silently repaired', async () => {
    await sqlAt(f.superUrl).query(`ALTER ROLE ${f.routerRole} CREATEDB`);
    try {
      const r = await bootstrap(f.env, MIGRATIONS);
      expect(r.ok).toBe(false);
      expect(r.lines.find((l) => l.kind === 'verify' && l.name === f.routerRole)).toMatchObject({
        outcome: 'unsafe', detail: `role ${f.routerRole} may create roles or databases`,
      });
      expect(formatReport(r)).toContain(`role ${f.routerRole} in region ${EU} database ${f.names.app}: NOT SAFE: role ${f.routerRole} may create roles or databases`);
    } finally {
      await sqlAt(f.superUrl).query(`ALTER ROLE ${f.routerRole} NOCREATEDB`);
    }
    await sqlAt(f.superUrl).query(`GRANT neon_superuser TO ${f.controlRole}`);
    try {
      const r = await bootstrap(f.env, MIGRATIONS);
      expect(r.lines.find((l) => l.kind === 'verify' && l.name === f.controlRole)).toMatchObject({ outcome: 'unsafe', detail: 'role neon_superuser bypasses row-level security' });
    } finally {
      await sqlAt(f.superUrl).query(`REVOKE neon_superuser FROM ${f.controlRole}`);
    }
    expect((await bootstrap(f.env, MIGRATIONS)).ok).toBe(true);
  });
});

describe('rotating the router passwords: two login roles alternating', () => {
  /** f.env with the router's URLs logging in as `<role>_<side>` with `password` (control and region). */
  const pairEnv = (side: 'a' | 'b', password: string) => {
    const url = (db: 'ctl' | 'app') => { const u = new URL(f.routerUrl(db)); u.username = `${db === 'ctl' ? f.controlRole : f.routerRole}_${side}`; u.password = password; return u.toString(); };
    return { env: { ...f.env, router: { CONTROL_DATABASE_URL: url('ctl'), REGION_DATABASE_URLS: JSON.stringify({ [EU]: url('app') }) } }, ctl: url('ctl'), app: url('app') };
  };
  const logins = async (urls: string[]) => Promise.all(urls.map(canLogin));

  it('upgrades a single-role install, keeps the deployed password working until --retire-idle, then alternates', async () => {
    const a = pairEnv('a', randomPassword());
    // 1. The secrets now name `_a` (a new password); the deployed router still logs in as the single role.
    const up = await bootstrap(a.env, MIGRATIONS);
    expect(up.ok).toBe(true);
    expect(outcomes(up)).toEqual(expect.arrayContaining([`role ${f.routerRole}_a: created`, `role ${f.controlRole}_a: created`, `verify ${f.routerRole}_a: safe`, `verify ${f.controlRole}_a: safe`]));
    expect(await logins([a.ctl, a.app, f.routerUrl('ctl'), f.routerUrl('app')])).toEqual([true, true, true, true]);
    // Re-running changes nothing.
    expect((await bootstrap(a.env, MIGRATIONS)).changed).toBe(false);
    // 2. Deployed: the old one is retired.
    const retired = await bootstrap(a.env, MIGRATIONS, { retireIdle: true });
    expect(outcomes(retired)).toEqual(expect.arrayContaining([`role ${f.routerRole}: login disabled`, `role ${f.controlRole}: login disabled`]));
    expect(await logins([a.ctl, a.app, f.routerUrl('ctl'), f.routerUrl('app')])).toEqual([true, true, false, false]);

    // 3. The next rotation: `_b` gets a password while `_a` (deployed) still works, until retired.
    const b = pairEnv('b', randomPassword());
    expect((await bootstrap(b.env, MIGRATIONS)).ok).toBe(true);
    expect(await logins([b.ctl, b.app, a.ctl, a.app])).toEqual([true, true, true, true]);
    expect(outcomes(await bootstrap(b.env, MIGRATIONS, { retireIdle: true }))).toEqual(expect.arrayContaining([`role ${f.routerRole}_a: login disabled`, `role ${f.controlRole}_a: login disabled`]));
    expect(await logins([b.ctl, b.app, a.ctl, a.app])).toEqual([true, true, false, false]);
    // And back to `_a`, with a new password: LOGIN restored for it alone.
    const a2 = pairEnv('a', randomPassword());
    expect(outcomes(await bootstrap(a2.env, MIGRATIONS))).toEqual(expect.arrayContaining([`role ${f.routerRole}_a: password updated`]));
    expect(await logins([a2.app, b.app, a.app])).toEqual([true, true, false]);

    // The login roles own nothing, cannot bypass RLS, and have the group's privileges exactly.
    const su = sqlAt(f.superUrl);
    const attrs = await su.query(`SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolinherit FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
      [[`${f.routerRole}_a`, `${f.routerRole}_b`, `${f.controlRole}_a`, `${f.controlRole}_b`]]);
    expect(attrs).toHaveLength(4);
    for (const r of attrs) expect(r).toMatchObject({ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolinherit: true });
    const [app] = await sqlAt(f.ownerUrl('app')).query(`SELECT router.unsafe_reason($1) AS a, router.unsafe_reason($2) AS b,
        has_table_privilege($1, 'shared.tracks', 'SELECT,INSERT,UPDATE,DELETE') AS dml, has_table_privilege($1, 'shared.schema_migrations', 'SELECT') AS ledger,
        has_function_privilege($1, 'router.enter(uuid, timestamptz, boolean)', 'EXECUTE') AS enter,
        (SELECT count(*)::int FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname IN ($1, $2)) AS owned`,
      [`${f.routerRole}_a`, `${f.routerRole}_b`]);
    expect(app).toEqual({ a: null, b: null, dml: true, ledger: false, enter: true, owned: 0 });
    const [ctl] = await sqlAt(f.ownerUrl('ctl')).query(`SELECT has_table_privilege($1, 'tenants', 'SELECT') AS read_tenants, has_table_privilege($1, 'tenants', 'INSERT') AS write_tenants,
        has_table_privilege($1, 'audit_log', 'SELECT') AS read_audit`, [`${f.controlRole}_a`]);
    expect(ctl).toEqual({ read_tenants: true, write_tenants: false, read_audit: false });
    // As `_a` on the shared database, with a tenant setting: rows through RLS, and it can say so.
    const as = sqlAt(a2.app);
    const rows = await as.transaction([as.query("SELECT set_config('app.tenant_id', $1, true)", [crypto.randomUUID()]), as.query('SELECT count(*)::int AS n FROM shared.tracks')]);
    expect(rows[1]).toEqual([{ n: 0 }]);
    // Back to the single role for anything after this file's tests.
    await bootstrap(f.env, MIGRATIONS);
  }, 120_000);
});
