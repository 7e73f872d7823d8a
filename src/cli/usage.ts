/** `usage <tenant>`: metered requests and bandwidth of a month, storage, and the invoice they would produce. */
import { str, type Command } from './command.js';
import { bytes, count, dollars, keyValues } from './format.js';
import type { Usage } from './client.js';

/** The storage line: used of the limit, whether writes are refused, how and when it was measured. */
function storageLine(s: Usage['storage']): string {
  if (!s) return 'not measured yet (the control plane measures every few minutes)';
  const share = s.limitBytes > 0 ? ` (${((100 * s.bytes) / s.limitBytes).toFixed(1)} %)` : '';
  return `${bytes(s.bytes)} of ${bytes(s.limitBytes)}${share}${s.over ? ', OVER: writes refused (507)' : ''}; ${s.method} at ${s.measuredAt}`;
}

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
      ['request bytes', bytes(u.requestBytes)],
      ['response bytes', bytes(u.responseBytes)],
      ['included', count(u.included)],
      ['overage', `${count(u.overage)}${u.hardCap ? ' (hard cap: requests past the quota are refused)' : ''}`],
      ['invoice', `${inv.tier}: base ${dollars(inv.baseCents)} + overage ${dollars(inv.overageCents)} = ${dollars(inv.totalCents)} ${inv.currency}`],
      // A deleted tenant has no storage any more.
      ['storage', u.deletedAt ? null : storageLine(u.storage)],
      // A deleted tenant stays billable on the terms it had when it was deleted.
      ['deleted', u.deletedAt ? `${u.deletedAt} (billed on its terms at deletion)` : null],
    ]));
    return 0;
  },
};
