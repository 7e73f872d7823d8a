/**
 * `npm run bench:migrate`: how long `tenantctl migrate` takes over 10,000 schema tenants (the
 * issue's targets: one new migration in at most 60 s, a pass with nothing to apply in at most
 * 10 s), with nothing to apply (every tenant current: only the status query runs; and every tenant
 * visited, each a no-op) and with one new migration. Starts its own stack; not part of `npm test`.
 *
 * Tenants: BENCH_API_TENANTS (20) are created through the admin API (the real provisioning path);
 * the rest are copies of them made in SQL (the same control rows, and in the region the same role,
 * schema, grants, 0001 tables and migration record the provisioner makes), since the API creates
 * a few tenants a second on this machine. MIGRATE_SIZES overrides "10000"; MIGRATE_CONFIGS the
 * CLI's --batch and --concurrency to time, "BATCHxCONCURRENCY,…" (default: the CLI's defaults).
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { spawnStack } from '../harness/spawn-stack.js';
import type { Stack } from '../support/stack-types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const STACK_FILE = resolve(ROOT, '.local/stack-bench-migrate.json');
const SIZES = (process.env.MIGRATE_SIZES ?? '10000').split(',').map(Number);
const API_TENANTS = Number(process.env.BENCH_API_TENANTS ?? 20);
const CONFIGS = (process.env.MIGRATE_CONFIGS ?? 'default').split(',').map((c) => c === 'default' ? null : c.split('x'));
const REGIONS = ['aws-us-east-2', 'aws-eu-central-1'] as const;
const TARGET_ONE_S = 60;
const TARGET_NOOP_S = 10;

function tenantctl(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'src/cli/tenantctl.mjs'), '--stack', STACK_FILE, '--timeout', '300', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => { out += d; });
    child.on('close', (code) => done({ code, out }));
  });
}

async function createApiTenants(stack: Stack, count: number, prefix: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${stack.control.url}/admin/v1/tenants`, {
        method: 'POST', headers: { authorization: `Bearer ${stack.control.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ slug: `${prefix}-${i}`, tier: 'PREMIUM', region: REGIONS[i % 2] }),
      });
      if (res.status !== 201) throw new Error(`create ${prefix}-${i}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

// The provisioner's schemaTenant() for many tenants in one call; identifiers quoted by format('%I').
const SEED_FUNCTION = `
CREATE OR REPLACE FUNCTION pg_temp.seed_schema_tenants(idents text[], router text, mig_name text, mig_sql text, mig_checksum text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY idents LOOP
    EXECUTE format('CREATE ROLE %I NOLOGIN', s);
    EXECUTE format('CREATE SCHEMA %I', s);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', s);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, s);
    EXECUTE format('GRANT %I TO %I WITH INHERIT FALSE, SET TRUE', s, router);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', s, s);
    PERFORM set_config('search_path', s, true);
    EXECUTE mig_sql;
    EXECUTE 'CREATE TABLE schema_migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())';
    EXECUTE 'INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)' USING mig_name, mig_checksum;
  END LOOP;
END $fn$`;

/** Copies of an API-made tenant of each region, `count` in all, in the control database and in the region. */
async function cloneTenants(stack: Stack, control: pg.Client, count: number, prefix: string): Promise<void> {
  const files = readdirSync(join(ROOT, 'migrations/tenant')).filter((f) => f.endsWith('.sql') && !f.endsWith('.down.sql')).sort();
  if (files.length !== 1) throw new Error('the bench seeds the first tenant migration only');
  const migName = files[0]!;
  const migSql = readFileSync(join(ROOT, 'migrations/tenant', migName), 'utf8');
  const checksum = createHash('sha256').update(migSql).digest('hex');
  for (const [r, region] of REGIONS.entries()) {
    const { rows: [tmpl] } = await control.query<{ id: string }>(
      "SELECT t.id FROM tenants t JOIN tenant_placements p ON p.tenant_id = t.id WHERE t.slug LIKE 'bench-api-%' AND t.region = $1 AND p.strategy = 'schema' LIMIT 1", [region]);
    if (!tmpl) throw new Error(`no API-made schema tenant in ${region}`);
    const n = Math.floor(count / 2) + (r === 0 ? count % 2 : 0);
    const ids = Array.from({ length: n }, () => randomUUID());
    const url = stack.regions[region]!;
    const router = new URL(url.routerUrl).username;
    const regional = new pg.Client({ connectionString: url.postgresUrl });
    await regional.connect();
    await regional.query(SEED_FUNCTION);
    try {
      for (let i = 0; i < ids.length; i += 100) {
        const chunk = ids.slice(i, i + 100);
        await regional.query('SELECT pg_temp.seed_schema_tenants($1::text[], $2, $3, $4, $5)',
          [chunk.map((id) => `t_${id.replace(/-/g, '')}`), router, migName, migSql, checksum]);
        const slugs = chunk.map((_, j) => `${prefix}-${r}-${i + j}`);
        await control.query('BEGIN');
        await control.query(
          `INSERT INTO tenants SELECT (jsonb_populate_record(NULL::tenants, to_jsonb(t) || jsonb_build_object('id', x.id, 'slug', x.slug, 'name', x.slug))).*
             FROM tenants t, unnest($2::uuid[], $3::text[]) AS x (id, slug) WHERE t.id = $1`, [tmpl.id, chunk, slugs]);
        await control.query(
          `INSERT INTO tenant_placements SELECT (jsonb_populate_record(NULL::tenant_placements, to_jsonb(p) || jsonb_build_object(
              'tenant_id', x.id, 'schema_name', 't_' || replace(x.id::text, '-', ''), 'role_name', 't_' || replace(x.id::text, '-', '')))).*
             FROM tenant_placements p, unnest($2::uuid[]) AS x (id) WHERE p.tenant_id = $1`, [tmpl.id, chunk]);
        await control.query(
          `INSERT INTO tenant_migration_status (tenant_id, applied, state) SELECT x.id, m.applied, m.state
             FROM tenant_migration_status m, unnest($2::uuid[]) AS x (id) WHERE m.tenant_id = $1`, [tmpl.id, chunk]);
        await control.query('COMMIT');
      }
    } finally {
      await regional.end();
    }
  }
}

async function migrate(dir: string, extra: string[] = []): Promise<{ ms: number; line: string }> {
  const t0 = performance.now();
  const r = await tenantctl(['migrate', '--dir', dir, ...extra]);
  const ms = performance.now() - t0;
  const line = r.out.split('\n').find((l) => l.startsWith('migrate:')) ?? r.out.slice(-300);
  if (r.code !== 0) throw new Error(`migrate failed: ${r.out.slice(-1000)}`);
  return { ms, line };
}

const verdict = (ms: number, targetS: number) => `${(ms / 1000).toFixed(2)} s (target ≤ ${targetS} s: ${ms <= targetS * 1000 ? 'met' : 'MISSED'})`;

async function main() {
  const running = await spawnStack<Stack>(ROOT, STACK_FILE);
  const control = new pg.Client({ connectionString: running.stack.control.postgresUrl });
  await control.connect();
  const dir = mkdtempSync(join(tmpdir(), 'migrate-bench-'));
  for (const f of readdirSync(join(ROOT, 'migrations/tenant'))) copyFileSync(join(ROOT, 'migrations/tenant', f), join(dir, f));
  const results: string[] = [];
  try {
    let t0 = performance.now();
    await createApiTenants(running.stack, API_TENANTS, 'bench-api');
    console.error(`created ${API_TENANTS} schema tenants through the API in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    let have = API_TENANTS;
    for (const [i, size] of SIZES.entries()) {
      t0 = performance.now();
      await cloneTenants(running.stack, control, size - have, `bench${i}`);
      console.error(`copied ${size - have} schema tenants in SQL in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      have = size;
      const { rows: [{ n }] } = await control.query("SELECT count(*)::int AS n FROM tenants WHERE status = 'active'");
      await migrate(dir); // settle: everything current
      const skip = await migrate(dir);
      results.push(`${size} schema tenants (+${n - size} seeded others):`,
        `  nothing to apply, all current (status query only): ${(skip.ms / 1000).toFixed(2)} s   ${skip.line}`);
      for (const [k, config] of CONFIGS.entries()) {
        const flags = config ? ['--batch', config[0]!, '--concurrency', config[1]!] : [];
        await control.query('UPDATE tenant_migration_status SET applied = NULL');
        const noop = await migrate(dir, flags);
        const column = `bench_${i}_${k}`;
        writeFileSync(join(dir, `${String(2 + i * CONFIGS.length + k).padStart(4, '0')}_${column}.sql`), `ALTER TABLE tracks ADD COLUMN IF NOT EXISTS ${column} smallint;\n`);
        const one = await migrate(dir, [...flags, '--canary', '5%', '--max-failures', '0']);
        let withColumn = 0;
        for (const region of REGIONS) {
          const c = new pg.Client({ connectionString: running.stack.regions[region]!.postgresUrl });
          await c.connect();
          const { rows: [{ k: found }] } = await c.query("SELECT count(*)::int AS k FROM information_schema.columns WHERE table_name = 'tracks' AND column_name = $1 AND table_schema LIKE 't\\_%'", [column]);
          withColumn += found;
          await c.end();
        }
        if (withColumn < size) throw new Error(`only ${withColumn} of ${size} schema tenants have the new column`);
        results.push(
          ` ${config ? `--batch ${config[0]} --concurrency ${config[1]}` : 'the CLI defaults'}:`,
          `  nothing to apply, every tenant visited (no-op):     ${verdict(noop.ms, TARGET_NOOP_S)}   ${noop.line}`,
          `  one new migration (--canary 5% --max-failures 0):   ${verdict(one.ms, TARGET_ONE_S)}   ${one.line}`,
          `  schema tenants with the new column afterwards: ${withColumn}`);
      }
    }
  } finally {
    await control.end();
    await running.stop();
  }
  console.log(results.join('\n'));
}

main().catch((err) => { console.error(err); process.exit(1); });
