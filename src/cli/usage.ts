/** `usage <tenant>`: metered requests of a month and the invoice they would produce. */
import { str, type Command } from './command.js';
import { count, dollars, keyValues } from './format.js';

export const usageCommand: Command = {
  name: 'usage', args: '<tenant>', arity: [1, 1], summary: "A tenant's usage for a month and its invoice preview",
  options: { month: { type: 'string', arg: 'YYYY-MM', help: 'the month (default: the current one, UTC)' } },
  examples: ['usage acme', 'usage acme --month 2026-01 --json'],
  async run(ctx, a) {
    const ref = a.positionals[0]!;
    const u = await ctx.client().usage(ref, str(a, 'month'));
    const inv = u.invoice;
    ctx.out.result(u, () => keyValues([
      ['tenant', ref === u.tenantId ? ref : `${ref} (${u.tenantId})`],
      ['month', u.month],
      ['requests', count(u.requests)],
      ['included', count(u.included)],
      ['overage', `${count(u.overage)}${u.hardCap ? ' (hard cap: requests past the quota are refused)' : ''}`],
      ['invoice', `${inv.tier}: base ${dollars(inv.baseCents)} + overage ${dollars(inv.overageCents)} = ${dollars(inv.totalCents)} ${inv.currency}`],
      // A deleted tenant stays billable on the terms it had when it was deleted.
      ['deleted', u.deletedAt ? `${u.deletedAt} (billed on its terms at deletion)` : null],
    ]));
    return 0;
  },
};
