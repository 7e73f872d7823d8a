/** `migrations list|status|add`: the tenant migration catalogue and every tenant's place in it. */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { EXIT, flag, int, str, UsageError, type Command } from './command.js';
import { table } from './format.js';
import { allPages } from './migrate.js';

const STATES = ['current', 'pending', 'failed', 'migrating'] as const;

const listCmd: Command = {
  name: 'migrations list', arity: [0, 0], summary: 'The catalogue: every tenant migration, its checksum and when it was added',
  examples: ['migrations list', 'migrations list --json'],
  async run(ctx) {
    const r = await ctx.client().listMigrations();
    ctx.out.result(r, () => table(['NAME', 'CHECKSUM', 'DOWN', 'ADDED'], r.migrations.map((m) => [m.name, m.checksum, m.hasDown ? 'yes' : '-', m.createdAt])));
    return EXIT.OK;
  },
};

const status: Command = {
  name: 'migrations status', arity: [0, 0], summary: "Each tenant's last applied migration and state, with the totals",
  details: '`pending` includes the failed and the migrating tenants (they are retried by `migrate`).',
  options: {
    state: { type: 'string', arg: 'S', choices: STATES, help: 'only tenants in this state: current, pending, failed or migrating' },
    limit: { type: 'string', arg: 'N', help: 'page size, 1-1000 (default 200)' },
    all: { type: 'boolean', help: 'follow the pages to the end' },
  },
  examples: ['migrations status --state failed --all', 'migrations status --json'],
  async run(ctx, a) {
    const client = ctx.client();
    const state = str(a, 'state') as (typeof STATES)[number] | undefined;
    const limit = int(a, 'limit', 1000);
    const first = await client.migrationStatus({ state, limit });
    const tenants = flag(a, 'all') ? await allPages(client, first, state, limit ?? 200) : first.tenants;
    const nextCursor = flag(a, 'all') ? null : first.nextCursor;
    const s = first.summary;
    ctx.out.result({ tenants, nextCursor, summary: s }, () => [
      ...table(['SLUG', 'TENANT', 'APPLIED', 'STATE', 'ERROR'],
        tenants.map((t) => [t.slug, t.tenantId, t.applied ?? '-', t.state, t.error?.replace(/\s+/g, ' ').slice(0, 100) ?? '-'])),
      `total ${s.total}: ${s.current} current, ${s.pending} pending, ${s.failed} failed${s.migrating ? `, ${s.migrating} migrating` : ''}`,
    ]);
    if (nextCursor && !ctx.out.json) ctx.out.note('(more tenants: use --all, or a larger --limit)');
    return EXIT.OK;
  },
};

const add: Command = {
  name: 'migrations add', args: '<file.sql>...', arity: [1, 1000],
  summary: 'Catalogue tenant migrations (forward-only: a catalogued name never changes its text)',
  details: [
    'Each file is catalogued under its file name (NNNN_name.sql) with PUT /admin/v1/migrations/{name}; a',
    'NNNN_name.down.sql is that migration\'s down (PUT /admin/v1/migrations/{name}/down), run by a rollback;',
    'the same text again is "unchanged", a changed text is refused (MIGRATION_CONFLICT). Nothing is applied:',
    '`migrate` or `tenant migrate` applies them.',
  ].join('\n'),
  examples: ['migrations add migrations/tenant/0003_playlists.sql', 'migrations add 0003_playlists.sql 0003_playlists.down.sql'],
  async run(ctx, a) {
    const client = ctx.client();
    const results: { name: string; result: 'created' | 'unchanged'; down?: true }[] = [];
    // Ups before downs: a down is catalogued onto its migration, which must exist first.
    const files = [...a.positionals].sort((x, y) => Number(x.endsWith('.down.sql')) - Number(y.endsWith('.down.sql')));
    for (const file of files) {
      const sql = await readFile(resolve(file), 'utf8').catch(() => { throw new UsageError(`cannot read ${resolve(file)}`); });
      const name = basename(file);
      if (name.endsWith('.down.sql')) results.push({ ...(await client.putMigrationDown(name.replace(/\.down\.sql$/, '.sql'), sql)), down: true });
      else results.push(await client.putMigration(name, sql));
    }
    ctx.out.result({ migrations: results }, () => results.map((r) => `${r.name}${r.down ? ' down' : ''} ${r.result}`));
    return EXIT.OK;
  },
};

/** The `migrations` group. */
export const migrationCommands: Command[] = [listCmd, status, add];
