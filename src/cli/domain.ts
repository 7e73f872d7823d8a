/**
 * `domain add|status|refresh|remove`: a tenant's custom domains. A new domain is a Cloudflare
 * custom hostname, pending until the tenant publishes the records `add` prints and a check
 * (`refresh`, or the control plane's schedule) finds them; only then do the routers serve it.
 */
import type { DomainView } from './client.js';
import type { Command } from './command.js';
import { keyValues, list, table } from './format.js';

/** The domain as people read it: its state, then the records to publish. */
function describe(d: DomainView): string[] {
  const lines = keyValues([
    ['hostname', d.hostname], ['status', d.status], ['detail', d.statusDetail], ['created', d.createdAt],
    ['checked', d.checkedAt], ['active since', d.activatedAt], ['next check', d.nextCheckAt],
  ]);
  if (d.status === 'active') return lines;
  if (d.records.length === 0) return [...lines, '', 'records: not known yet (the domain is being registered; run `domain refresh`)'];
  return [...lines, '', 'publish these records at the domain\'s DNS provider:',
    ...table(['TYPE', 'NAME', 'VALUE', 'PURPOSE'], d.records.map((r) => [r.type, r.name, r.value, r.purpose]))];
}

const add: Command = {
  name: 'domain add', args: '<tenant> <hostname>', arity: [2, 2], summary: 'Add a custom domain to a tenant; prints the records to publish',
  async run(ctx, a) {
    const [ref, host] = a.positionals as [string, string];
    const d = await ctx.client().addDomain(ref, host);
    ctx.out.result(d, () => [`added ${d.hostname} to ${ref} (${d.status})`, ...describe(d)]);
    return 0;
  },
};

const status: Command = {
  name: 'domain status', args: '<tenant> <hostname>', arity: [2, 2], summary: "A custom domain's status and the records it still needs",
  async run(ctx, a) {
    const [ref, host] = a.positionals as [string, string];
    const d = await ctx.client().getDomain(ref, host);
    ctx.out.result(d, () => describe(d));
    return 0;
  },
};

const refresh: Command = {
  name: 'domain refresh', args: '<tenant> <hostname>', arity: [2, 2], summary: 'Check a custom domain at Cloudflare now',
  async run(ctx, a) {
    const [ref, host] = a.positionals as [string, string];
    const d = await ctx.client().refreshDomain(ref, host);
    ctx.out.result(d, () => describe(d));
    // A failed domain is an outcome a script must see (exit 1, "failed").
    if (d.status !== 'failed') return 0;
    ctx.out.note(`error DOMAIN_FAILED: ${d.hostname}: ${d.statusDetail ?? 'failed'}`);
    return 1;
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

export const domainCommands: Command[] = [add, status, refresh, remove];
