/**
 * tenantctl migrate over 200+ tenants: interrupted with SIGINT part-way, then resumed; the second
 * run migrates exactly the tenants the first did not reach, and the new column is in Postgres.
 */
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { admin, collect, query, ROOT, spawnCli, tenantctl, type Run } from './support.js';

const stack = inject('stack');
const TENANTS = 200;
const STOP_AFTER = 50;
const REGIONS = ['aws-us-east-2', 'aws-eu-central-1'] as const;
const SUMMARY = /^migrate: (\d+) migrated, (\d+) failed, (\d+) already current, (\d+) ms$/m;

/** The `migrated <slug> (n applied)` lines of a run. */
const migratedSlugs = (stdout: string) => [...stdout.matchAll(/^migrated (\S+) \((\d+) applied\)$/gm)].map((m) => m[1]!);

function summary(r: Run) {
  const m = SUMMARY.exec(r.stdout);
  if (!m) throw new Error(`no summary line:\n${r.stdout}\n${r.stderr}`);
  return { migrated: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]), ms: Number(m[4]) };
}

/** Creates `n` PREMIUM (schema) tenants through the API, `parallel` requests at a time. */
async function createTenants(n: number, parallel: number): Promise<string[]> {
  const slugs = Array.from({ length: n }, (_, i) => `mig-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < n; i += parallel) {
    await Promise.all(slugs.slice(i, i + parallel).map(async (slug, j) => {
      const r = await admin(stack, 'POST', '/tenants', { slug, tier: 'PREMIUM', region: REGIONS[(i + j) % 2] });
      if (r.status !== 201) throw new Error(`${slug}: ${r.status} ${JSON.stringify(r.body)}`);
    }));
  }
  return slugs;
}

/** Runs migrate and sends SIGINT once `after` tenants have been reported migrated. */
async function interruptedMigrate(dir: string, after: number): Promise<Run & { signalledAt: number }> {
  const child = spawnCli(['migrate', '--dir', dir]);
  let seen = 0;
  let signalledAt = -1;
  child.stdout!.on('data', (d: Buffer) => {
    seen += (d.toString().match(/^migrated /gm) ?? []).length;
    if (signalledAt < 0 && seen >= after) {
      signalledAt = seen;
      child.kill('SIGINT');
    }
  });
  return { ...(await collect(child)), signalledAt };
}

describe('tenantctl migrate', () => {
  let dir: string;
  let slugs: string[];

  beforeAll(async () => {
    const t0 = Date.now();
    slugs = await createTenants(TENANTS, 8);
    const ms = Date.now() - t0;
    console.log(`[timing] created ${TENANTS} PREMIUM tenants through the API (8 in parallel) in ${ms} ms: ${(TENANTS / (ms / 1000)).toFixed(1)} tenants/s`);

    dir = mkdtempSync(join(tmpdir(), 'tenantctl-migrate-'));
    for (const f of readdirSync(join(ROOT, 'migrations/tenant'))) if (f.endsWith('.sql')) copyFileSync(join(ROOT, 'migrations/tenant', f), join(dir, f));
    // Migrations run with search_path set to the tenant's schema: unqualified names are right.
    writeFileSync(join(dir, '0002_track_rating.sql'), 'ALTER TABLE tracks ADD COLUMN IF NOT EXISTS rating smallint;\n');
  });

  it('stops on SIGINT after the tenants in flight, and a second run migrates exactly the rest', async () => {
    const first = await interruptedMigrate(dir, STOP_AFTER);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stdout).toMatch(/^catalogue: 0001_tracks\.sql unchanged, 0002_track_rating\.sql created$/m);
    const s1 = summary(first);
    const done1 = migratedSlugs(first.stdout);
    const total = (await admin(stack, 'GET', '/migrations/status?limit=1')).body.summary.total as number;
    console.log(`[timing] migrate, interrupted: ${s1.migrated} of ${total} tenants migrated in ${s1.ms} ms (SIGINT after ${first.signalledAt})`);
    expect(total).toBeGreaterThanOrEqual(TENANTS);
    expect(s1).toMatchObject({ failed: 0, skipped: 0 });
    expect(s1.migrated).toBe(done1.length);
    expect(s1.migrated).toBeGreaterThanOrEqual(STOP_AFTER);
    expect(s1.migrated).toBeLessThan(total);
    // Every tenant is either migrated or reported as not started: none is lost in flight.
    expect(first.stderr).toMatch(new RegExp(`interrupted with ${total - s1.migrated} tenants not started; run it again`));
    const mid = (await admin(stack, 'GET', '/migrations/status?limit=1')).body.summary;
    expect(mid).toMatchObject({ current: s1.migrated, pending: total - s1.migrated, failed: 0 });

    const second = await tenantctl('migrate', '--dir', dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^catalogue: 0001_tracks\.sql unchanged, 0002_track_rating\.sql unchanged$/m);
    const s2 = summary(second);
    const done2 = migratedSlugs(second.stdout);
    console.log(`[timing] migrate, resumed: ${s2.migrated} tenants migrated in ${s2.ms} ms (${s2.skipped} already current)`);
    expect(s2).toMatchObject({ migrated: total - s1.migrated, failed: 0, skipped: s1.migrated });
    expect(done2.filter((s) => done1.includes(s))).toEqual([]);
    expect(new Set([...done1, ...done2]).size).toBe(total);
    for (const slug of slugs) expect(done1.includes(slug) || done2.includes(slug), slug).toBe(true);

    const third = await tenantctl('migrate', '--dir', dir);
    expect(third.code).toBe(0);
    expect(summary(third)).toMatchObject({ migrated: 0, failed: 0, skipped: total });
  });

  it('reports every tenant current with --status, and the column exists in the tenants\' storage', async () => {
    const r = await tenantctl('migrate', '--status');
    expect(r.code, r.stderr).toBe(0);
    const total = (await admin(stack, 'GET', '/migrations/status?limit=1')).body.summary.total as number;
    expect(r.stdout).toMatch(new RegExp(`^total ${total}: ${total} current, 0 pending, 0 failed$`, 'm'));
    expect(r.stdout.match(/^mig-\d{4} +\S+ +0002_track_rating\.sql +current +-$/gm)).toHaveLength(TENANTS);

    const sample = [slugs[0]!, slugs[1]!, slugs[57]!, slugs[120]!, slugs[TENANTS - 1]!];
    for (const slug of sample) {
      const t = (await admin(stack, 'GET', `/tenants/${slug}`)).body as { region: string; placement: { schemaName: string } };
      const cols = await query(stack.regions[t.region]!.postgresUrl,
        "SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'tracks' AND column_name = 'rating'",
        [t.placement.schemaName]);
      expect(cols, slug).toEqual([{ data_type: 'smallint' }]);
    }
    // Row tenants share their region's schema; database tenants have their own database.
    for (const region of REGIONS) {
      expect(await query(stack.regions[region]!.postgresUrl,
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'shared' AND table_name = 'tracks' AND column_name = 'rating'")).toHaveLength(1);
    }
    const wayne = stack.tenants.wayne!;
    const url = new URL(stack.regions[wayne.region]!.adminUrl);
    url.pathname = `/t_${wayne.id.replace(/-/g, '')}`;
    expect(await query(url.toString(),
      "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'tracks' AND column_name = 'rating'")).toHaveLength(1);
  });

  it('refuses a catalogued migration whose text changed (MIGRATION_CONFLICT, exit 1) before touching a tenant', async () => {
    writeFileSync(join(dir, '0002_track_rating.sql'), 'ALTER TABLE tracks ADD COLUMN IF NOT EXISTS rating integer;\n');
    const before = (await admin(stack, 'GET', '/audit?action=tenant.migrate&limit=1')).body.entries[0]?.seq;
    const r = await tenantctl('migrate', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error MIGRATION_CONFLICT: 0002_track_rating\.sql /m);
    expect((await admin(stack, 'GET', '/audit?action=tenant.migrate&limit=1')).body.entries[0]?.seq).toBe(before);
  });
});
