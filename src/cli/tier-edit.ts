/** `tier show|create|update|delete`: one template, and custom templates made from a tier or cloned. */
import type { Template } from './client.js';
import { EXIT, str, strs, UsageError, type Command } from './command.js';
import { count, dollars, keyValues } from './format.js';
import { LIMIT_KEYS, parseAssignments, PRICE_KEYS } from './limits.js';

const ISOLATIONS = ['row', 'schema', 'database'] as const;
const KEYS_HELP = [
  'Keys for --set: the limits', `  ${LIMIT_KEYS.slice(0, 6).join(', ')},`, `  ${LIMIT_KEYS.slice(6).join(', ')};`,
  `and the prices (in cents) ${PRICE_KEYS.join(', ')}.`,
].join('\n');
/** Template names are upper case in the API; the tool accepts any case. */
const upper = (s: string) => s.toUpperCase();

function templateLines(t: Template): string[] {
  const l = t.limits;
  return keyValues([
    ['name', t.name], ['builtin', t.builtin ? 'yes' : 'no'], ['based on', t.basedOn ?? '-'], ['description', t.description || '-'],
    ['isolation', t.isolation], ['ratePerMinute', count(l.ratePerMinute)], ['burst', count(l.burst)],
    ['monthlyRequests', count(l.monthlyRequests)], ['hardCap', String(l.hardCap)], ['concurrency', count(l.concurrency)],
    ['failMode', l.failMode], ['breakerFailures', count(l.breakerFailures)], ['breakerWindowSeconds', count(l.breakerWindowSeconds)],
    ['breakerCooldownSeconds', count(l.breakerCooldownSeconds)], ['storageMb', count(l.storageMb)], ['connectionLimit', count(l.connectionLimit)],
    ['maxBodyBytes', count(l.maxBodyBytes)],
    ['monthlyCents', `${t.pricing.monthlyCents} (${dollars(t.pricing.monthlyCents)})`],
    ['overageCentsPer1k', `${t.pricing.overageCentsPer1k} (${dollars(t.pricing.overageCentsPer1k)})`],
  ]);
}

const show: Command = {
  name: 'tier show', args: '<name>', arity: [1, 1], summary: 'Show one tier or template: limits and prices',
  examples: ['tier show PREMIUM', 'tier show gold --json'],
  async run(ctx, a) {
    const t = await ctx.client().getTier(upper(a.positionals[0]!));
    ctx.out.result(t, () => templateLines(t));
    return EXIT.OK;
  },
};

const create: Command = {
  name: 'tier create', args: '<name>', arity: [1, 1],
  summary: 'Create a custom template from a built-in tier, or clone another template, with changes',
  details: `The new template starts as a copy of --from and takes the changes given.\n${KEYS_HELP}`,
  options: {
    from: { type: 'string', arg: 'T', required: true, help: 'the tier or template to start from' },
    description: { type: 'string', arg: 'TEXT', help: 'what it is for' },
    isolation: { type: 'string', arg: 'I', choices: ISOLATIONS, help: "row, schema or database (default: --from's)" },
    set: { type: 'string', arg: 'KEY=VALUE', multiple: true, help: 'change one limit or price, e.g. ratePerMinute=1200' },
  },
  examples: ['tier create GOLD --from PREMIUM --set ratePerMinute=1200 --set monthlyCents=49900', 'tier create GOLD_EU --from GOLD --description "GOLD for the EU sales"'],
  async run(ctx, a) {
    const { limits, pricing } = parseAssignments(strs(a, 'set'), true);
    const t = await ctx.client().createTier({
      name: upper(a.positionals[0]!), from: upper(str(a, 'from')!), description: str(a, 'description'),
      isolation: str(a, 'isolation') as (typeof ISOLATIONS)[number] | undefined, limits, pricing,
    });
    ctx.out.result(t, () => templateLines(t));
    return EXIT.OK;
  },
};

const update: Command = {
  name: 'tier update', args: '<name>', arity: [1, 1],
  summary: "Change a custom template's limits, prices or description (tenants on it follow)",
  details: `Built-in tiers cannot be changed (INVALID_STATE): create a template from one.\n${KEYS_HELP}`,
  options: {
    description: { type: 'string', arg: 'TEXT', help: 'what it is for' },
    set: { type: 'string', arg: 'KEY=VALUE', multiple: true, help: 'change one limit or price, e.g. burst=300' },
  },
  examples: ['tier update GOLD --set burst=300 --set hardCap=true', 'tier update GOLD --description "PREMIUM with a larger bucket"'],
  async run(ctx, a) {
    const { limits, pricing } = parseAssignments(strs(a, 'set'), true);
    const description = str(a, 'description');
    if (description === undefined && !Object.keys(limits).length && !Object.keys(pricing).length) {
      throw new UsageError('nothing to change: give --set or --description');
    }
    const t = await ctx.client().updateTier(upper(a.positionals[0]!), { description, limits, pricing });
    ctx.out.result(t, () => templateLines(t));
    return EXIT.OK;
  },
};

const remove: Command = {
  name: 'tier delete', args: '<name>', arity: [1, 1],
  summary: 'Delete a custom template no tenant uses (TEMPLATE_IN_USE otherwise)',
  examples: ['tier delete GOLD'],
  async run(ctx, a) {
    const r = await ctx.client().deleteTier(upper(a.positionals[0]!));
    ctx.out.result(r, () => `deleted template ${r.deleted}`);
    return EXIT.OK;
  },
};

/** `tier show`, `tier create`, `tier update`, `tier delete`. */
export const tierEditCommands: Command[] = [show, create, update, remove];
