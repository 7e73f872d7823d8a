/**
 * tenantctl migrate over 200+ tenants: interrupted with SIGINT part-way, then resumed; the second
 * run migrates exactly the tenants the first did not reach, and the new column is in Postgres.
 * Then waves: a migration that fails on tenants whose data violates it stops after the canary
 * past --max-failures, rolls the canary back with its down and leaves the rest untouched; with
 * the data fixed, the canary and the rest go through.
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
  // Small batches, one at a time: the signal lands while most tenants are still to come.
  const child = spawnCli(['migrate', '--dir', dir, '--batch', '5', '--concurrency', '1']);
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

const CAP = 'tracks_duration_cap';
/** Whether `schema`'s tracks carry the constraint of 0003, and its record. */
async function hasCap(region: string, schema: string) {
  const url = stack.regions[region]!.postgresUrl;
  const [c] = await query(url, 'SELECT count(*)::int AS n FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2)', [CAP, `${schema}.tracks`]);
  const [r] = await query(url, 'SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = \'schema_migrations\'', [schema]);
  const recorded = r.n ? (await query(url, `SELECT count(*)::int AS n FROM ${schema}.schema_migrations WHERE name = '0003_duration_cap.sql'`))[0].n : 0;
  return { constraint: c.n === 1, recorded: recorded === 1 };
}

describe('tenantctl migrate in waves', () => {
  let dir: string;
  let all: { tenantId: string; slug: string }[];
  let canary: Set<string>;
  const placement = new Map<string, { region: string; schema: string; strategy: string }>();
  let bad: string[];
  let badOutside: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tenantctl-waves-'));
    for (const f of readdirSync(join(ROOT, 'migrations/tenant'))) if (f.endsWith('.sql')) copyFileSync(join(ROOT, 'migrations/tenant', f), join(dir, f));
    writeFileSync(join(dir, '0002_track_rating.sql'), 'ALTER TABLE tracks ADD COLUMN IF NOT EXISTS rating smallint;\n');
    // Tracks longer than ten minutes are refused from now on: a tenant that has one fails it.
    writeFileSync(join(dir, '0003_duration_cap.sql'), `ALTER TABLE tracks ADD CONSTRAINT ${CAP} CHECK (duration_ms <= 600000);\n`);
    writeFileSync(join(dir, '0003_duration_cap.down.sql'), `ALTER TABLE tracks DROP CONSTRAINT ${CAP};\n`);
    // Every tenant is current before the waves (the first describe left them so); the pending
    // list of the run is all of them in id order, and the canary its first 10%.
    const status = await admin(stack, 'GET', '/migrations/status?limit=1000');
    all = status.body.tenants;
    expect(status.body.summary).toMatchObject({ pending: 0, failed: 0 });
    canary = new Set(all.slice(0, Math.ceil(all.length * 0.1)).map((t) => t.tenantId));
    for (const t of all.filter((x) => x.slug.startsWith('mig-'))) {
      const v = (await admin(stack, 'GET', `/tenants/${t.tenantId}`)).body;
      placement.set(t.tenantId, { region: v.region, schema: v.placement.schemaName, strategy: v.placement.strategy });
    }
    const mig = all.filter((t) => placement.get(t.tenantId)?.strategy === 'schema');
    bad = mig.filter((t) => canary.has(t.tenantId)).slice(0, 2).map((t) => t.tenantId);
    badOutside = mig.filter((t) => !canary.has(t.tenantId)).at(-1)!.tenantId;
    expect(bad).toHaveLength(2);
    for (const id of [...bad, badOutside]) {
      const p = placement.get(id)!;
      await query(stack.regions[p.region]!.postgresUrl, `INSERT INTO ${p.schema}.tracks (tenant_id, title, artist, duration_ms) VALUES ($1, 'Long', 'Band', 3600000)`, [id]);
    }
  });

  it('stops after the canary once failures pass --max-failures, rolls the canary back with its down, and leaves the rest untouched', async () => {
    const r = await tenantctl('migrate', '--dir', dir, '--canary', '10%', '--max-failures', '1', '--batch', '5');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^catalogue: 0001_tracks\.sql unchanged, 0002_track_rating\.sql unchanged, 0003_duration_cap\.sql created \(down created\)$/m);
    const slugOf = new Map(all.map((t) => [t.tenantId, t.slug]));
    for (const id of bad) expect(r.stdout).toMatch(new RegExp(`^failed ${slugOf.get(id)}: .*violated by some row`, 'm'));
    const failedSlugs = [...r.stdout.matchAll(/^failed (\S+):/gm)].map((m) => m[1]);
    expect(failedSlugs.sort()).toEqual(bad.map((id) => slugOf.get(id)).sort());
    const stop = /^stopped: 2 failed > --max-failures 1 in the canary wave; (\d+) rolled back; (\d+) not started$/m.exec(r.stdout);
    expect(stop, r.stdout).not.toBeNull();
    // The rest never started (nor, perhaps, the canary's last batches once the limit was passed).
    expect(Number(stop![2])).toBeGreaterThanOrEqual(all.length - canary.size);
    const rolledBack = [...r.stdout.matchAll(/^rolled back (\S+) \((\d+) reverted\)$/gm)].map((m) => m[1]!);
    expect(Number(stop![1])).toBe(rolledBack.length);
    expect(rolledBack.length).toBeGreaterThan(0);
    const canarySlugs = new Set([...canary].map((id) => slugOf.get(id)));
    for (const s of rolledBack) expect(canarySlugs.has(s), s).toBe(true);
    expect(migratedSlugs(r.stdout).every((s) => canarySlugs.has(s))).toBe(true);

    // Every schema tenant: none has the constraint or its record (the canary's were undone, the rest never reached).
    for (const [id, p] of placement) {
      if (p.strategy !== 'schema') continue;
      expect(await hasCap(p.region, p.schema), slugOf.get(id)).toEqual({ constraint: false, recorded: false });
    }
    for (const region of REGIONS) expect(await hasCap(region, 'shared')).toEqual({ constraint: false, recorded: false });
    const status = (await admin(stack, 'GET', '/migrations/status?limit=1000')).body;
    expect(status.summary).toMatchObject({ failed: 2, current: 0, migrating: 0, pending: all.length - 2 });
    const byId = new Map<string, { state: string; applied: string; error: string | null }>(status.tenants.map((t: { tenantId: string }) => [t.tenantId, t]));
    for (const id of bad) expect(byId.get(id)).toMatchObject({ state: 'failed', applied: '0002_track_rating.sql', error: expect.stringMatching(/violated by some row/) });
    expect(byId.get(badOutside)).toMatchObject({ state: 'pending', applied: '0002_track_rating.sql', error: null });
    for (const t of all) if (!bad.includes(t.tenantId)) expect(byId.get(t.tenantId)!.applied, t.slug).toBe('0002_track_rating.sql');
  });

  it('with the data fixed, migrates the canary and then the rest, and the constraint holds everywhere', async () => {
    for (const id of [...bad, badOutside]) {
      const p = placement.get(id)!;
      await query(stack.regions[p.region]!.postgresUrl, `DELETE FROM ${p.schema}.tracks WHERE duration_ms > 600000`);
    }
    const r = await tenantctl('migrate', '--dir', dir, '--canary', '10%', '--max-failures', '0', '--batch', '25');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^catalogue: .*0003_duration_cap\.sql unchanged \(down unchanged\)$/m);
    const total = all.length;
    expect(summary(r)).toMatchObject({ migrated: total, failed: 0 });
    expect(r.stdout).toMatch(new RegExp(`^waves: canary ${canary.size}/${canary.size} migrated, 0 failed; rest ${total - canary.size}/${total - canary.size} migrated, 0 failed$`, 'm'));
    for (const [, p] of placement) if (p.strategy === 'schema') expect(await hasCap(p.region, p.schema)).toEqual({ constraint: true, recorded: true });
    const p = placement.get(badOutside)!;
    await expect(query(stack.regions[p.region]!.postgresUrl, `INSERT INTO ${p.schema}.tracks (tenant_id, title, artist, duration_ms) VALUES ($1, 'Long', 'Band', 3600000)`, [badOutside]))
      .rejects.toThrow(new RegExp(CAP));
    expect((await admin(stack, 'GET', '/migrations/status?limit=1')).body.summary).toMatchObject({ current: total, pending: 0, failed: 0, migrating: 0 });
    expect((await admin(stack, 'GET', '/migrations')).body.migrations.find((m: { name: string }) => m.name === '0003_duration_cap.sql')).toMatchObject({ hasDown: true });
  });

  it('stops the rest wave past --max-failures and says so when a migration has no down to roll back with', async () => {
    writeFileSync(join(dir, '0004_short_titles.sql'), 'ALTER TABLE tracks ADD CONSTRAINT tracks_short_title CHECK (char_length(title) <= 100);\n');
    const p = placement.get(badOutside)!;
    await query(stack.regions[p.region]!.postgresUrl, `INSERT INTO ${p.schema}.tracks (tenant_id, title, artist, duration_ms) VALUES ($1, $2, 'Band', 1000)`, [badOutside, 'x'.repeat(150)]);
    const r = await tenantctl('migrate', '--dir', dir, '--canary', '10%', '--max-failures', '0', '--batch', '25', '--concurrency', '1');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^stopped: 1 failed > --max-failures 0 in the rest wave; not rolled back: 0004_short_titles\.sql ships no down; \d+ not started$/m);
    expect(r.stdout).toMatch(new RegExp(`^waves: canary ${canary.size}/${canary.size} migrated, 0 failed; rest \\d+/${all.length - canary.size} migrated, 1 failed$`, 'm'));
    // Fixed, and run again: the rest of the fleet follows.
    await query(stack.regions[p.region]!.postgresUrl, `DELETE FROM ${p.schema}.tracks WHERE char_length(title) > 100`);
    const again = await tenantctl('migrate', '--dir', dir);
    expect(again.code, again.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/migrations/status?limit=1')).body.summary).toMatchObject({ pending: 0, failed: 0, migrating: 0 });
  });

  it('refuses a bad --canary or --max-failures before sending anything (exit 2)', async () => {
    for (const [flag, value, message] of [['--canary', '0%', /--canary must be a percentage/], ['--canary', '150%', /--canary must be a percentage/], ['--canary', 'five', /--canary must be a percentage/], ['--max-failures', '1.5', /--max-failures must be a whole number/]] as const) {
      const r = await tenantctl('migrate', '--dir', dir, flag, value);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
