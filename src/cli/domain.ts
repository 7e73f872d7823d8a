/** `domain add|remove`: a tenant's custom domains (unique across tenants). */
import type { Command } from './command.js';
import { list } from './format.js';

const add: Command = {
  name: 'domain add', args: '<tenant> <hostname>', arity: [2, 2], summary: 'Add a custom domain to a tenant',
  async run(ctx, a) {
    const [ref, host] = a.positionals as [string, string];
    const t = await ctx.client().addDomain(ref, host);
    ctx.out.result(t, () => `added ${host.toLowerCase()} to ${t.slug}; domains: ${list(t.domains)}`);
    return 0;
  },
};

const remove: Command = {
  name: 'domain remove', args: '<tenant> <hostname>', arity: [2, 2], summary: "Remove one of a tenant's custom domains",
  async run(ctx, a) {
    const [ref, host] = a.positionals as [string, string];
    const t = await ctx.client().removeDomain(ref, host);
    ctx.out.result(t, () => `removed ${host.toLowerCase()} from ${t.slug}; domains: ${list(t.domains)}`);
    return 0;
  },
};

export const domainCommands: Command[] = [add, remove];
