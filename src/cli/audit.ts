/** `audit verify|list`: the hash-chained audit log. */
import { int, str, type Command } from './command.js';
import { table } from './format.js';

const verify: Command = {
  name: 'audit verify', arity: [0, 0], summary: 'Verify the hash chain end to end (exit 1 when broken)',
  examples: ['audit verify'],
  async run(ctx) {
    const r = await ctx.client().auditVerify();
    ctx.out.result(r, () => r.ok
      ? `audit log intact: ${r.checked} entries${r.head ? `, head ${r.head.seq}:${r.head.hash}` : ''}`
      : `audit log broken at seq ${r.brokenAt}: ${r.reason} (${r.checked} entries intact before it)`);
    return r.ok ? 0 : 1;
  },
};

const listCmd: Command = {
  name: 'audit list', arity: [0, 0], summary: 'Audit entries, newest first',
  options: {
    tenant: { type: 'string', arg: 'T', help: 'tenant id or slug' },
    action: { type: 'string', arg: 'A', help: 'action, or prefix: tenant matches tenant.create, tenant.delete, ...' },
    actor: { type: 'string', arg: 'WHO', help: 'only entries by this actor: admin-token, jwt:<subject>, edge:<client>' },
    since: { type: 'string', arg: 'TIME', help: 'entries at or after this ISO 8601 time, e.g. 2026-01-31T00:00:00Z' },
    until: { type: 'string', arg: 'TIME', help: 'entries before this ISO 8601 time' },
    limit: { type: 'string', arg: 'N', help: 'how many, 1-1000 (default 100)' },
  },
  examples: ['audit list --tenant acme --action tenant', 'audit list --since 2026-01-31T00:00:00Z --limit 10 --json'],
  async run(ctx, a) {
    const r = await ctx.client().auditList({
      tenant: str(a, 'tenant'), action: str(a, 'action'), actor: str(a, 'actor'), since: str(a, 'since'), until: str(a, 'until'),
      limit: int(a, 'limit', 1000),
    });
    ctx.out.result(r, () => table(['SEQ', 'AT', 'ACTOR', 'ACTION', 'TENANT', 'DETAIL'],
      r.entries.map((e) => [String(e.seq), e.at, e.actor, e.action, e.tenantId ?? '-',
        Object.keys(e.detail).length ? JSON.stringify(e.detail).slice(0, 120) : '-'])));
    return 0;
  },
};

export const auditCommands: Command[] = [verify, listCmd];
