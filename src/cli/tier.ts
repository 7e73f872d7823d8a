/** `tier list|export|import`: tiers and custom templates, as a table or as YAML. */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { str, UsageError, type Command } from './command.js';
import { count, dollars, list, table } from './format.js';

const listCmd: Command = {
  name: 'tier list', arity: [0, 0], summary: 'List the built-in tiers and custom templates',
  examples: ['tier list', 'tier list --json'],
  async run(ctx) {
    const r = await ctx.client().listTiers();
    ctx.out.result(r, () => table(
      ['NAME', 'BUILTIN', 'BASED_ON', 'ISOLATION', 'RATE/MIN', 'BURST', 'MONTHLY', 'HARD_CAP', 'PRICE/MONTH', 'OVERAGE/1K'],
      r.templates.map((t) => [t.name, t.builtin ? 'yes' : 'no', t.basedOn ?? '-', t.isolation, count(t.limits.ratePerMinute),
        count(t.limits.burst), count(t.limits.monthlyRequests), t.limits.hardCap ? 'yes' : 'no',
        dollars(t.pricing.monthlyCents), dollars(t.pricing.overageCentsPer1k)])));
    return 0;
  },
};

const exportCmd: Command = {
  name: 'tier export', arity: [0, 0], summary: 'Export templates as YAML, byte for byte as the API writes them',
  options: {
    out: { type: 'string', arg: 'FILE', help: 'write to FILE instead of stdout' },
    names: { type: 'string', arg: 'A,B', help: 'only these templates' },
  },
  examples: ['tier export --out tiers.yaml', 'tier export --names FREE,GOLD'],
  async run(ctx, a) {
    const yaml = await ctx.client().exportTiers(str(a, 'names'));
    const out = str(a, 'out');
    if (out) {
      await writeFile(resolve(out), yaml);
      ctx.out.result({ file: resolve(out), bytes: Buffer.byteLength(yaml) }, () => `wrote ${Buffer.byteLength(yaml)} bytes to ${out}`);
    } else if (ctx.out.json) {
      ctx.out.result(parse(yaml), () => '');
    } else {
      // No added newline: the bytes are the API's, so export → import → export compares equal.
      process.stdout.write(yaml);
    }
    return 0;
  },
};

const importCmd: Command = {
  name: 'tier import', args: '<file>', arity: [1, 1],
  summary: 'Import templates from YAML: custom ones are created or replaced, built-ins must match',
  examples: ['tier import tiers.yaml'],
  async run(ctx, a) {
    const file = resolve(a.positionals[0]!);
    const yaml = await readFile(file, 'utf8').catch(() => { throw new UsageError(`cannot read ${file}`); });
    const r = await ctx.client().importTiers(yaml);
    ctx.out.result(r, () => [`created: ${list(r.created)}`, `updated: ${list(r.updated)}`, `unchanged: ${list(r.unchanged)}`]);
    return 0;
  },
};

export const tierCommands: Command[] = [listCmd, exportCmd, importCmd];
