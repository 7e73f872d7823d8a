/**
 * `npm run bench:migrate`: how long `tenantctl migrate` takes over 200 and 1,000 schema tenants,
 * with nothing to apply (every tenant current: only the status query runs; and every tenant
 * visited, each a no-op apply) and with one new migration. Starts its own stack; not part of
 * `npm test`. MIGRATE_SIZES overrides "200,1000"; MIGRATE_CONCURRENCY the CLI's bound (8).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { spawnStack } from '../harness/spawn-stack.js';
import type { Stack } from '../support/stack-types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const STACK_FILE = resolve(ROOT, '.local/stack-bench-migrate.json');
const SIZES = (process.env.MIGRATE_SIZES ?? '200,1000').split(',').map(Number);
const CONCURRENCY = process.env.MIGRATE_CONCURRENCY ?? '8';

function tenantctl(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'src/cli/tenantctl.mjs'), '--stack', STACK_FILE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => { out += d; });
    child.on('close', (code) => done({ code, out }));
  });
}

async function createSchemaTenants(stack: Stack, count: number, prefix: string) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${stack.control.url}/admin/v1/tenants`, {
        method: 'POST', headers: { authorization: `Bearer ${stack.control.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ slug: `${prefix}-${i}`, tier: 'PREMIUM', region: i % 2 ? 'aws-eu-central-1' : 'aws-us-east-2' }),
      });
      if (res.status !== 201) throw new Error(`create ${prefix}-${i}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function migrate(dir: string): Promise<{ ms: number; line: string }> {
  const t0 = performance.now();
  const r = await tenantctl(['migrate', '--dir', dir, '--concurrency', CONCURRENCY]);
  const ms = performance.now() - t0;
  const line = r.out.split('\n').find((l) => l.startsWith('migrate:')) ?? r.out.slice(-300);
  if (r.code !== 0) throw new Error(`migrate failed: ${r.out.slice(-1000)}`);
  return { ms, line };
}

async function main() {
  const running = await spawnStack<Stack>(ROOT, STACK_FILE);
  const control = new pg.Client({ connectionString: running.stack.control.postgresUrl });
  await control.connect();
  const dir = mkdtempSync(join(tmpdir(), 'migrate-bench-'));
  for (const f of readdirSync(join(ROOT, 'migrations/tenant'))) copyFileSync(join(ROOT, 'migrations/tenant', f), join(dir, f));
  const results: string[] = [];
  try {
    let have = 0;
    for (const [i, size] of SIZES.entries()) {
      const t0 = performance.now();
      await createSchemaTenants(running.stack, size - have, `bench${i}`);
      console.error(`created ${size - have} schema tenants in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      have = size;
      const { rows: [{ n }] } = await control.query("SELECT count(*)::int AS n FROM tenants WHERE status = 'active'");
      await migrate(dir); // settle: everything current
      const skip = await migrate(dir);
      await control.query('UPDATE tenant_migration_status SET applied = NULL');
      const noop = await migrate(dir);
      writeFileSync(join(dir, `000${i + 2}_bench_${i}.sql`), `ALTER TABLE tracks ADD COLUMN IF NOT EXISTS bench_${i} smallint;\n`);
      const one = await migrate(dir);
      results.push(
        `${size} schema tenants (+${n - size} seeded others), concurrency ${CONCURRENCY}:`,
        `  nothing to apply, all current (status query only): ${(skip.ms / 1000).toFixed(2)} s   ${skip.line}`,
        `  nothing to apply, every tenant visited (no-op):     ${(noop.ms / 1000).toFixed(2)} s   ${noop.line}`,
        `  one new migration:                                  ${(one.ms / 1000).toFixed(2)} s   ${one.line}`);
    }
  } finally {
    await control.end();
    await running.stop();
  }
  console.log(results.join('\n'));
}

main().catch((err) => { console.error(err); process.exit(1); });
