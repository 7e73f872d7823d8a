/**
 * `migrate`: catalogue the tenant migrations of a directory (and their downs), then migrate every
 * tenant that is not yet current, in batches (one control call per batch; the control plane uses
 * one database connection per cluster for it) and in waves: with `--canary P%` that share of the
 * pending tenants first, then the rest. Past `--max-failures` the run stops starting batches and
 * rolls the stopped wave's migrated tenants back with the migrations' downs. Progress lives in the
 * control plane (each tenant's status), not in this process, so an interrupted run is resumed by
 * running it again: tenants already current are not asked for again.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ApiError, type BatchResult, type ControlClient, type MigrationStatus, type StatusPage } from './client.js';
import { EXIT, flag, int, str, UsageError, type Command, type Context } from './command.js';
import { REPO_ROOT } from './config.js';
import { table } from './format.js';
import { runPool } from './pool.js';
import { progress, type Progress } from './progress.js';
import { batches, parseCount, parsePercent, planWaves, rollbackPlan, tripped, type Wave } from './waves.js';

export const migrateCommand: Command = {
  name: 'migrate', arity: [0, 0],
  summary: 'Catalogue the tenant migrations and apply them to every tenant not yet current, in waves (resumable)',
  details: [
    'Uploads every NNNN_name.sql file of --dir (PUT /admin/v1/migrations/{name}; a changed file is refused: forward-only)',
    'and its NNNN_name.down.sql when there is one, then migrates the pending tenants --batch at a time',
    '(POST /admin/v1/migrations/apply). --canary P% migrates that share of them first; the rest follow only if',
    'no more than --max-failures tenants failed. A wave that passes --max-failures stops (no new batches) and its',
    'migrated tenants are rolled back with the downs (nothing is rolled back when a migration has no down).',
    'Ctrl-C stops starting batches, waits for those in flight and exits 130; running it again continues with the',
    'tenants still pending. A relative --dir is taken from the current directory, or else from the repository root.',
  ].join('\n'),
  examples: ['migrate', 'migrate --canary 5% --max-failures 3', 'migrate --dir ./migrations/tenant --batch 500 --concurrency 4', 'migrate --status'],
  options: {
    dir: { type: 'string', arg: 'DIR', help: 'migrations directory (default: migrations/tenant of the repository)' },
    canary: { type: 'string', arg: 'P%', help: 'migrate this share of the pending tenants first (e.g. 5%)' },
    'max-failures': { type: 'string', arg: 'N', help: 'stop, and roll the wave back, once more than N tenants failed (default: no limit)' },
    batch: { type: 'string', arg: 'N', help: 'tenants per control call, 1-1000 (default 500)' },
    concurrency: { type: 'string', arg: 'N', help: 'batches in flight at once, 1-16 (default 4)' },
    status: { type: 'boolean', help: "print every tenant's migration state and the totals; change nothing" },
  },
  async run(ctx, a) {
    if (flag(a, 'status')) return printStatus(ctx);
    const canary = str(a, 'canary');
    const max = str(a, 'max-failures');
    return migrate(ctx, migrationsDir(str(a, 'dir')), {
      canary: canary === undefined ? undefined : parsePercent(canary),
      maxFailures: max === undefined ? undefined : parseCount(max),
      batch: int(a, 'batch', 1000) ?? 500,
      concurrency: int(a, 'concurrency', 16) ?? 4,
    });
  },
};

interface Options { canary: number | undefined; maxFailures: number | undefined; batch: number; concurrency: number }

function migrationsDir(dir: string | undefined): string {
  if (!dir) return join(REPO_ROOT, 'migrations/tenant');
  if (isAbsolute(dir) || existsSync(resolve(dir))) return resolve(dir);
  return resolve(REPO_ROOT, dir);
}

/** How a stopped wave ended. */
interface Stop { wave: Wave<unknown>['name']; failed: number; rolledBack: number; rollbackFailed: number; notRolledBack: string | null }

async function migrate(ctx: Context, dir: string, o: Options): Promise<number> {
  const t0 = Date.now();
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(EXIT.INTERRUPTED);
    stopping = true;
    ctx.out.note(`migrate: ${sig}: starting no more batches, waiting for those in flight (again to quit now)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const client = ctx.client();
    const catalogue = await uploadCatalogue(client, dir);
    if (!ctx.out.json) ctx.out.line(`catalogue: ${catalogue.map((c) => `${c.name} ${c.result}${c.down ? ` (down ${c.down})` : ''}`).join(', ')}`);
    // Listed before any tenant is migrated, so the pages do not shift under the cursor.
    const first = await client.migrationStatus({ state: 'pending', limit: 1000 });
    const pending = await allPages(client, first, 'pending', 1000);
    const skipped = first.summary.current;

    const report = progress(ctx.out, pending.length);
    let migrated = 0;
    let started = 0;
    const failed: { slug: string; error: string }[] = [];
    const waves = planWaves(pending, o.canary);
    const summaryOf: { wave: string; tenants: number; migrated: number; failed: number }[] = [];
    let stop: Stop | null = null;
    let stopped: { wave: Stop['wave']; done: { tenantId: string; slug: string; applied: string[] }[] } | null = null;
    try {
      for (const wave of waves) {
        if (stopping) break;
        const done: { tenantId: string; slug: string; applied: string[] }[] = [];
        const failedBefore = failed.length;
        const slugOf = new Map(wave.tenants.map((t) => [t.tenantId, t.slug]));
        const isTripped = () => tripped(failed.length, o.maxFailures);
        const ran = await runPool(batches(wave.tenants, o.batch), o.concurrency, () => stopping || isTripped(), async (batch) => {
          for (const r of await applyBatch(client, batch.map((t) => t.tenantId))) {
            const slug = slugOf.get(r.tenantId) ?? r.tenantId;
            if (r.state === 'current') {
              migrated++;
              done.push({ tenantId: r.tenantId, slug, applied: r.applied });
              report.migrated(slug, r.applied.length);
            } else {
              failed.push({ slug, error: r.error ?? r.state });
              report.failed(slug, r.error ?? r.state);
            }
          }
        });
        started += Math.min(wave.tenants.length, ran * o.batch);
        summaryOf.push({ wave: wave.name, tenants: wave.tenants.length, migrated: done.length, failed: failed.length - failedBefore });
        if (isTripped()) {
          stopped = { wave: wave.name, done };
          break;
        }
      }
    } finally {
      report.stop();
    }
    if (stopped) stop = { wave: stopped.wave, failed: failed.length, ...(await rollBack(client, report, stopped.done)) };

    const ms = Date.now() - t0;
    const notStarted = pending.length - started;
    ctx.out.result({ catalogue, migrated, failed, skipped, ms, interrupted: stopping, notStarted, waves: summaryOf, stopped: stop },
      () => [
        `migrate: ${migrated} migrated, ${failed.length} failed, ${skipped} already current, ${ms} ms`,
        ...(o.canary !== undefined ? [`waves: ${summaryOf.map((w) => `${w.wave} ${w.migrated}/${w.tenants} migrated, ${w.failed} failed`).join('; ')}`] : []),
        ...(stop ? [stopLine(stop, o.maxFailures!, notStarted)] : []),
      ]);
    if (stopping) {
      ctx.out.note(`migrate: interrupted with ${notStarted} tenants not started; run it again to continue`);
      return EXIT.INTERRUPTED;
    }
    return failed.length || stop ? EXIT.FAILED : EXIT.OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function stopLine(s: Stop, max: number, notStarted: number): string {
  const undo = s.notRolledBack ? `not rolled back: ${s.notRolledBack}` : `${s.rolledBack} rolled back${s.rollbackFailed ? `, ${s.rollbackFailed} could not be` : ''}`;
  return `stopped: ${s.failed} failed > --max-failures ${max} in the ${s.wave} wave; ${undo}; ${notStarted} not started`;
}

/** One batch's outcomes; a refused or unanswered call fails every tenant of it. */
async function applyBatch(client: ControlClient, ids: string[]): Promise<BatchResult[]> {
  try {
    return (await client.applyMigrations(ids)).results;
  } catch (err) {
    const error = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
    return ids.map((tenantId) => ({ tenantId, state: 'failed' as const, applied: [], error }));
  }
}

/** Rolls `done` back with the downs of what this run applied in the wave (every tenant of it: see rollbackPlan). */
async function rollBack(client: ControlClient, report: Progress, done: { tenantId: string; slug: string; applied: string[] }[]) {
  const hasDown = new Map((await client.listMigrations()).migrations.map((m) => [m.name, m.hasDown]));
  const plan = rollbackPlan(done, hasDown);
  const changed = plan.tenants;
  if (changed.length === 0) return { rolledBack: 0, rollbackFailed: 0, notRolledBack: null };
  if (plan.withoutDown.length) return { rolledBack: 0, rollbackFailed: 0, notRolledBack: `${plan.withoutDown.join(', ')} ships no down` };
  const slugOf = new Map(changed.map((d) => [d.tenantId, d.slug]));
  let rolledBack = 0;
  let rollbackFailed = 0;
  for (const batch of batches(changed.map((d) => d.tenantId), 250)) {
    const results = await client.revertMigrations(batch, plan.migrations).then((r) => r.results, (err: unknown) =>
      batch.map((tenantId) => ({ tenantId, state: 'failed' as const, reverted: [], applied: null, error: String(err) })));
    for (const r of results) {
      if (r.state === 'reverted') {
        rolledBack++;
        report.rolledBack(slugOf.get(r.tenantId) ?? r.tenantId, r.reverted.length);
      } else {
        rollbackFailed++;
        report.failed(slugOf.get(r.tenantId) ?? r.tenantId, `rollback: ${r.error ?? r.state}`);
      }
    }
  }
  return { rolledBack, rollbackFailed, notRolledBack: null };
}

/** PUTs every NNNN_name.sql file in name order, then its .down.sql if present; a MIGRATION_CONFLICT is thrown and aborts the run. */
async function uploadCatalogue(client: ControlClient, dir: string) {
  const all = await readdir(dir).catch(() => { throw new UsageError(`cannot read directory ${dir}`); });
  const files = all.filter((f) => f.endsWith('.sql') && !f.endsWith('.down.sql')).sort();
  if (files.length === 0) throw new UsageError(`no *.sql files in ${dir}`);
  const out: { name: string; result: 'created' | 'unchanged'; down?: 'created' | 'unchanged' }[] = [];
  for (const name of files) {
    const entry: (typeof out)[number] = await client.putMigration(name, await readFile(join(dir, name), 'utf8'));
    const downFile = name.replace(/\.sql$/, '.down.sql');
    if (all.includes(downFile)) entry.down = (await client.putMigrationDown(name, await readFile(join(dir, downFile), 'utf8'))).result;
    out.push({ name: entry.name, result: entry.result, ...(entry.down ? { down: entry.down } : {}) });
  }
  return out;
}

/** The statuses of `first` and every page after it. */
export async function allPages(client: ControlClient, first: StatusPage, state: MigrationStatus['state'] | undefined, limit: number): Promise<MigrationStatus[]> {
  const tenants = [...first.tenants];
  for (let cursor = first.nextCursor; cursor;) {
    const page = await client.migrationStatus({ state, limit, cursor });
    tenants.push(...page.tenants);
    cursor = page.nextCursor;
  }
  return tenants;
}

async function printStatus(ctx: Context): Promise<number> {
  const client = ctx.client();
  const first = await client.migrationStatus({ limit: 1000 });
  const tenants = await allPages(client, first, undefined, 1000);
  const s = first.summary;
  ctx.out.result({ tenants, summary: s }, () => [
    ...table(['SLUG', 'TENANT', 'APPLIED', 'STATE', 'ERROR'],
      tenants.map((t) => [t.slug, t.tenantId, t.applied ?? '-', t.state, t.error?.replace(/\s+/g, ' ').slice(0, 100) ?? '-'])),
    `total ${s.total}: ${s.current} current, ${s.pending} pending, ${s.failed} failed${s.migrating ? `, ${s.migrating} migrating` : ''}`,
  ]);
  return 0;
}
