/** `tenant backup|backups|restore`: per-tenant logical backups in R2 and their restore (src/backups/, docs/backups.md). */
import { str, UsageError, type Command } from './command.js';
import { keyValues, table } from './format.js';

const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));

const backup: Command = {
  name: 'tenant backup', args: '<id|slug>', arity: [1, 1],
  summary: "Take a logical backup of the tenant's rows now (encrypted with its data key, stored in R2)",
  details: 'One consistent snapshot of every table; the record says what it holds and the SHA-256 of the stored object.',
  examples: ['tenant backup acme'],
  async run(ctx, a) {
    const r = await ctx.client().backupTenant(a.positionals[0]!);
    ctx.out.result(r, () => keyValues([
      ['backup', r.id], ['taken at', r.takenAt ?? ''], ['rows', r.rows ?? 0], ['bytes', r.bytes ?? 0],
      ['tables', (r.tables ?? []).map((t) => `${t.name} ${t.rows}`).join(', ') || 'none'], ['expires', r.expiresAt ?? 'never'],
    ]));
    return 0;
  },
};

const backups: Command = {
  name: 'tenant backups', args: '<id|slug>', arity: [1, 1], summary: "The tenant's backups, newest first",
  examples: ['tenant backups acme'],
  async run(ctx, a) {
    const r = await ctx.client().listBackups(a.positionals[0]!);
    ctx.out.result(r, () => table(['id', 'kind', 'status', 'taken at', 'rows', 'bytes', 'expires', 'error'],
      r.backups.map((b) => [b.id, b.kind, b.status, b.takenAt, b.rows, b.bytes, b.expiresAt, b.error].map(cell))));
    return 0;
  },
};

const restore: Command = {
  name: 'tenant restore', args: '<id|slug>', arity: [1, 1],
  summary: 'Restore one of the tenant\'s backups into it, or into a new tenant (--into-new SLUG)',
  details: 'Into the tenant itself: its writes answer 503 TENANT_MIGRATING while its rows are replaced in one transaction and '
    + 'verified (count and digest per table); reads go on. Into a new tenant: it is created like `tenant create` (the source\'s '
    + 'tier, region and isolation unless given) and filled, every row\'s tenant id rewritten.',
  options: {
    backup: { type: 'string', arg: 'ID', help: 'the backup to restore (see `tenant backups`)' },
    'into-new': { type: 'string', arg: 'SLUG', help: 'restore into a new tenant with this slug' },
    tier: { type: 'string', arg: 'T', help: 'with --into-new: its tier' },
    region: { type: 'string', arg: 'R', help: 'with --into-new: its region' },
    isolation: { type: 'string', arg: 'I', choices: ['row', 'schema', 'database'], help: 'with --into-new: its isolation' },
  },
  examples: ['tenant restore acme --backup 6f1c…', 'tenant restore acme --backup 6f1c… --into-new acme-copy'],
  async run(ctx, a) {
    const backupId = str(a, 'backup');
    if (!backupId) throw new UsageError('give --backup ID (see `tenant backups`)');
    const slug = str(a, 'into-new');
    const target = slug ? { newTenant: { slug, tier: str(a, 'tier'), region: str(a, 'region'), isolation: str(a, 'isolation') as 'row' | 'schema' | 'database' | undefined } } : 'same' as const;
    const r = await ctx.client().restoreTenant(a.positionals[0]!, { backupId, target });
    ctx.out.result(r, () => keyValues([
      ['restored', `${r.backupId} (taken ${r.takenAt})`], ['into', r.into === 'same' ? r.tenantId : `new tenant ${r.tenantId}`],
      ['rows', r.tables.map((t) => `${t.name} ${t.rows}`).join(', ') || 'none'], ['replaced', `${r.deleted} deleted, ${r.inserted} inserted`],
      ['writes paused', `${r.fenceMs} ms`], ['took', `${r.durationMs} ms`],
    ]));
    return 0;
  },
};

export const tenantBackupCommands: Command[] = [backup, backups, restore];
