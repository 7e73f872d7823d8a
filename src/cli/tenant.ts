/** `tenant create|list|show|suspend|resume|delete`: the tenant lifecycle through the admin API. */
import { createInterface } from 'node:readline/promises';
import { ApiError, type TenantView } from './client.js';
import { flag, int, str, strs, type Command } from './command.js';
import { keyValues, list, table } from './format.js';

const ISOLATIONS = ['row', 'schema', 'database'] as const;
const RESIDENCIES = ['EU', 'US', 'UK', 'APAC'] as const;
const STATUSES = ['provisioning', 'active', 'suspended', 'migrating', 'deleting'] as const;

/** The lines `tenant create`, `suspend` and `resume` print. */
export function tenantSummary(t: TenantView): string[] {
  return keyValues([
    ['id', t.id], ['slug', t.slug], ['name', t.name], ['tier', t.tier], ['region', t.region], ['residency', t.residency],
    ['isolation', t.isolation], ['status', t.status], ['domains', list(t.domains)],
  ]);
}

/** The lines `tenant show` prints. */
export function tenantDetail(t: TenantView): string[] {
  const p = t.placement;
  return [...tenantSummary(t), ...keyValues([
    ['detail', t.statusDetail],
    ['placement', p ? [p.strategy, p.region, p.databaseName && `database ${p.databaseName}`, p.schemaName && `schema ${p.schemaName}`].filter(Boolean).join(', ') : 'none'],
    ['jwt', t.jwt ? `${t.jwt.issuer} (audience ${t.jwt.audience}, claim ${t.jwt.claim})` : null],
    ['geo', t.geo ? `allow ${list(t.geo.allowCountries)}; block ${list(t.geo.blockCountries)}; ip ${list(t.geo.ipAllow)}` : null],
    ['overrides', Object.keys(t.overrides).length ? JSON.stringify(t.overrides) : null],
    ['version', t.version], ['created', t.createdAt], ['updated', t.updatedAt],
  ])];
}

const create: Command = {
  name: 'tenant create', args: '<slug>', arity: [1, 1],
  summary: 'Create a tenant and provision its storage in its region',
  options: {
    tier: { type: 'string', arg: 'T', required: true, help: 'tier or template (FREE, STANDARD, PREMIUM, ENTERPRISE, ...)' },
    region: { type: 'string', arg: 'R', required: true, help: 'region, e.g. aws-eu-central-1; there is no default' },
    residency: { type: 'string', arg: 'J', choices: RESIDENCIES, help: 'data residency: EU, US, UK or APAC' },
    name: { type: 'string', arg: 'N', help: 'display name (default: the slug)' },
    domain: { type: 'string', arg: 'D', multiple: true, help: 'custom domain (repeatable)' },
    isolation: { type: 'string', arg: 'I', choices: ISOLATIONS, help: "row, schema or database (default: the tier's)" },
  },
  examples: ['tenant create acme --tier PREMIUM --region aws-eu-central-1 --residency EU', 'tenant create shop --tier FREE --region aws-us-east-2 --domain shop.example.com'],
  async run(ctx, a) {
    const domains = strs(a, 'domain');
    const t = await ctx.client().createTenant({
      slug: a.positionals[0]!, tier: str(a, 'tier')!, region: str(a, 'region')!,
      residency: str(a, 'residency') as (typeof RESIDENCIES)[number] | undefined,
      name: str(a, 'name'), isolation: str(a, 'isolation') as (typeof ISOLATIONS)[number] | undefined,
      domains: domains.length ? domains : undefined,
    });
    ctx.out.result(t, () => tenantSummary(t));
    return 0;
  },
};

const listCmd: Command = {
  name: 'tenant list', arity: [0, 0],
  summary: 'List tenants (one page, or every page with --all)',
  options: {
    tier: { type: 'string', arg: 'T', help: 'only this tier' },
    region: { type: 'string', arg: 'R', help: 'only this region' },
    status: { type: 'string', arg: 'S', choices: STATUSES, help: 'only this status' },
    limit: { type: 'string', arg: 'N', help: 'page size, 1-500 (default 50)' },
    all: { type: 'boolean', help: 'follow the pages to the end' },
  },
  examples: ['tenant list --tier PREMIUM --all', 'tenant list --status suspended --json'],
  async run(ctx, a) {
    const filter = { tier: str(a, 'tier'), region: str(a, 'region'), status: str(a, 'status'), limit: int(a, 'limit', 500) };
    const tenants: TenantView[] = [];
    let cursor: string | undefined;
    let next: string | null = null;
    do {
      const page = await ctx.client().listTenants({ ...filter, cursor });
      tenants.push(...page.tenants);
      next = page.nextCursor;
      cursor = next ?? undefined;
    } while (next && flag(a, 'all'));
    ctx.out.result({ tenants, nextCursor: next }, () => table(
      ['ID', 'SLUG', 'TIER', 'REGION', 'ISOLATION', 'STATUS', 'DOMAINS'],
      tenants.map((t) => [t.id, t.slug, t.tier, t.region, t.isolation, t.status, list(t.domains)])));
    if (next && !ctx.out.json) ctx.out.note('(more tenants: use --all, or a larger --limit)');
    return 0;
  },
};

const show: Command = {
  name: 'tenant show', args: '<id|slug>', arity: [1, 1], summary: 'Show one tenant',
  examples: ['tenant show acme', 'tenant show acme --json'],
  async run(ctx, a) {
    const t = await ctx.client().getTenant(a.positionals[0]!);
    ctx.out.result(t, () => tenantDetail(t));
    return 0;
  },
};

const stateChange = (verb: 'suspend' | 'resume', summary: string): Command => ({
  name: `tenant ${verb}`, args: '<id|slug>', arity: [1, 1], summary, examples: [`tenant ${verb} acme`],
  async run(ctx, a) {
    const c = ctx.client();
    const t = await (verb === 'suspend' ? c.suspend(a.positionals[0]!) : c.resume(a.positionals[0]!));
    ctx.out.result(t, () => tenantSummary(t));
    return 0;
  },
});

const remove: Command = {
  name: 'tenant delete', args: '<id|slug>', arity: [1, 1],
  summary: "Delete a tenant and its storage (--confirm repeats the tenant's slug)",
  details: 'Without --confirm the tool asks for the slug when run in a terminal; otherwise the API refuses (CONFIRMATION_REQUIRED).',
  options: { confirm: { type: 'string', arg: 'SLUG', help: "the tenant's slug, repeated" } },
  examples: ['tenant delete acme --confirm acme'],
  async run(ctx, a) {
    const ref = a.positionals[0]!;
    const confirm = str(a, 'confirm') ?? (await promptSlug(ref));
    const r = await ctx.client().deleteTenant(ref, confirm).catch((err: unknown) => {
      if (err instanceof ApiError && err.code === 'CONFIRMATION_REQUIRED') {
        throw new ApiError(err.status, err.code, `deleting drops the tenant's data: repeat its slug with --confirm <slug>`, err.requestId);
      }
      throw err;
    });
    // The storage stays fenced for the grace period; the purge completes after it.
    ctx.out.result(r, () => [`deleted ${r.slug} (${r.id})`, ...(r.purgeCompletesAt ? [`storage purge completes at ${r.purgeCompletesAt}`] : [])]);
    return 0;
  },
};

/** Asks for the slug only in an interactive terminal; scripts and tests get the API's refusal. */
async function promptSlug(ref: string): Promise<string | undefined> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`Deleting drops all of ${ref}'s data. Type the tenant's slug to confirm: `)).trim() || undefined;
  } finally {
    rl.close();
  }
}

export const tenantCommands: Command[] = [
  create, listCmd, show,
  stateChange('suspend', 'Suspend a tenant (routers answer 503 TENANT_SUSPENDED)'),
  stateChange('resume', 'Resume a suspended tenant'),
  remove,
];
