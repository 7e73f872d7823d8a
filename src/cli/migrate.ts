/**
 * `migrate`: catalogue the tenant migrations of a directory, then migrate every tenant that is
 * not yet current, a few at a time. Progress lives in the control plane (each tenant's status),
 * not in this process, so an interrupted run is resumed by running it again: tenants already
 * current are not asked for again.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ApiError, type ControlClient, type MigrationStatus, type StatusPage } from './client.js';
import { EXIT, flag, int, str, UsageError, type Command, type Context } from './command.js';
import { REPO_ROOT } from './config.js';
import { table } from './format.js';
import { runPool } from './pool.js';
import { progress } from './progress.js';

export const migrateCommand: Command = {
  name: 'migrate', arity: [0, 0],
  summary: 'Catalogue the tenant migrations and apply them to every tenant not yet current (resumable)',
  details: [
    'Uploads every *.sql file of --dir (PUT /admin/v1/migrations/{name}; a changed file is refused: forward-only),',
    'then migrates the pending tenants. Ctrl-C stops starting tenants, waits for those in flight and exits 130;',
    'running it again continues with the tenants still pending. A relative --dir is taken from the current',
    'directory, or else from the repository root.',
  ].join('\n'),
  examples: ['migrate', 'migrate --dir ./migrations/tenant --concurrency 16', 'migrate --status'],
  options: {
    dir: { type: 'string', arg: 'DIR', help: 'migrations directory (default: migrations/tenant of the repository)' },
    concurrency: { type: 'string', arg: 'N', help: 'tenants migrated at once, 1-64 (default 8)' },
    status: { type: 'boolean', help: "print every tenant's migration state and the totals; change nothing" },
  },
  async run(ctx, a) {
    if (flag(a, 'status')) return printStatus(ctx);
    return migrate(ctx, migrationsDir(str(a, 'dir')), int(a, 'concurrency', 64) ?? 8);
  },
};

function migrationsDir(dir: string | undefined): string {
  if (!dir) return join(REPO_ROOT, 'migrations/tenant');
  if (isAbsolute(dir) || existsSync(resolve(dir))) return resolve(dir);
  return resolve(REPO_ROOT, dir);
}

async function migrate(ctx: Context, dir: string, concurrency: number): Promise<number> {
  const t0 = Date.now();
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(EXIT.INTERRUPTED);
    stopping = true;
    ctx.out.note(`migrate: ${sig}: starting no more tenants, waiting for those in flight (again to quit now)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const client = ctx.client();
    const catalogue = await uploadCatalogue(client, dir);
    if (!ctx.out.json) ctx.out.line(`catalogue: ${catalogue.map((c) => `${c.name} ${c.result}`).join(', ')}`);
    // Listed before any tenant is migrated, so the pages do not shift under the cursor.
    const first = await client.migrationStatus({ state: 'pending', limit: 500 });
    const pending = await allPages(client, first, 'pending', 500);
    const skipped = first.summary.current;

    const report = progress(ctx.out, pending.length);
    let migrated = 0;
    const failed: { slug: string; error: string }[] = [];
    const started = await runPool(pending, concurrency, () => stopping, async (t) => {
      const r = await migrateOne(client, t.tenantId);
      if (r.ok) {
        migrated++;
        report.migrated(t.slug, r.applied);
      } else {
        failed.push({ slug: t.slug, error: r.error });
        report.failed(t.slug, r.error);
      }
    }).finally(() => report.stop());

    const ms = Date.now() - t0;
    const notStarted = pending.length - started;
    ctx.out.result({ catalogue, migrated, failed, skipped, ms, interrupted: stopping, notStarted },
      () => `migrate: ${migrated} migrated, ${failed.length} failed, ${skipped} already current, ${ms} ms`);
    if (stopping) {
      ctx.out.note(`migrate: interrupted with ${notStarted} tenants not started; run it again to continue`);
      return EXIT.INTERRUPTED;
    }
    return failed.length ? EXIT.FAILED : EXIT.OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One tenant's outcome as a value: a failed migration and a refused call are both "failed". */
async function migrateOne(client: ControlClient, id: string): Promise<{ ok: true; applied: number } | { ok: false; error: string }> {
  try {
    const r = await client.migrateTenant(id);
    return r.state === 'current' ? { ok: true, applied: r.applied.length } : { ok: false, error: r.error ?? 'failed' };
  } catch (err) {
    return { ok: false, error: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) };
  }
}

/** PUTs every *.sql file in name order; a MIGRATION_CONFLICT is thrown and aborts the run. */
async function uploadCatalogue(client: ControlClient, dir: string) {
  const files = (await readdir(dir).catch(() => { throw new UsageError(`cannot read directory ${dir}`); }))
    .filter((f) => f.endsWith('.sql')).sort();
  if (files.length === 0) throw new UsageError(`no *.sql files in ${dir}`);
  const out: { name: string; result: 'created' | 'unchanged' }[] = [];
  for (const name of files) out.push(await client.putMigration(name, await readFile(join(dir, name), 'utf8')));
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
    `total ${s.total}: ${s.current} current, ${s.pending} pending, ${s.failed} failed`,
  ]);
  return 0;
}
