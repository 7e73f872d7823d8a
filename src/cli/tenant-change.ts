/** `tenant update|provision|migrate`: change a tenant, retry its provisioning, migrate it alone. */
import type { PatchTenant, TenantView } from './client.js';
import { EXIT, flag, str, strs, UsageError, type Args, type Command, type OptionSpec } from './command.js';
import { keyValues, list } from './format.js';
import { LIMIT_KEYS, parseAssignments, parseLimitKeys } from './limits.js';
import { tenantSummary } from './tenant.js';

const RESIDENCY: OptionSpec = { type: 'string', arg: 'J', choices: ['EU', 'US', 'UK', 'APAC', 'none'], help: 'data residency: EU, US, UK, APAC, or none' };

/** The lines `tenant update` and `provision` print: the summary, the overrides and the version. */
function changedTenant(t: TenantView): string[] {
  return [...tenantSummary(t), ...keyValues([
    ['overrides', Object.keys(t.overrides).length ? JSON.stringify(t.overrides) : '-'], ['version', t.version], ['detail', t.statusDetail],
  ])];
}

/** The body of PATCH /tenants/{id}, without the overrides (they need the current ones). */
function patchOf(a: Args): PatchTenant {
  const residency = str(a, 'residency', RESIDENCY);
  return {
    name: str(a, 'name'), tier: str(a, 'tier')?.toUpperCase(),
    ...(residency === undefined ? {} : { residency: residency === 'none' ? null : residency as 'EU' | 'US' | 'UK' | 'APAC' }),
  };
}

const update: Command = {
  name: 'tenant update', args: '<id|slug>', arity: [1, 1],
  summary: "Change a tenant's name, tier, residency or limit overrides (version bump, caches invalidated)",
  details: [
    'Overrides are edited, not replaced: --set adds or changes one, --unset removes one, --clear-overrides',
    'removes all of them first. The API replaces the whole set, so the tool reads the current overrides and',
    'sends the result. Limit keys:',
    `  ${LIMIT_KEYS.slice(0, 6).join(', ')},`,
    `  ${LIMIT_KEYS.slice(6).join(', ')}`,
  ].join('\n'),
  options: {
    name: { type: 'string', arg: 'N', help: 'display name' },
    tier: { type: 'string', arg: 'T', help: "tier or template to move to (one of another isolation moves the tenant's data there first, online)" },
    residency: RESIDENCY,
    set: { type: 'string', arg: 'KEY=VALUE', multiple: true, help: 'override one limit, e.g. ratePerMinute=600' },
    unset: { type: 'string', arg: 'KEY', multiple: true, help: "remove one override (the tier's value applies again)" },
    'clear-overrides': { type: 'boolean', help: 'remove every override before --set' },
  },
  examples: [
    'tenant update acme --tier PREMIUM',
    'tenant update acme --set ratePerMinute=600 --set hardCap=false',
    'tenant update acme --unset ratePerMinute --residency none',
  ],
  async run(ctx, a) {
    const ref = a.positionals[0]!;
    const body = patchOf(a);
    const set = parseAssignments(strs(a, 'set'), false).limits;
    const unset = parseLimitKeys(strs(a, 'unset'));
    const clear = flag(a, 'clear-overrides');
    const editsOverrides = clear || unset.length > 0 || Object.keys(set).length > 0;
    if (!editsOverrides && Object.values(body).every((v) => v === undefined)) {
      throw new UsageError('nothing to change: give --name, --tier, --residency, --set, --unset or --clear-overrides');
    }
    const client = ctx.client();
    if (editsOverrides) {
      const overrides = clear ? {} : { ...(await client.getTenant(ref)).overrides };
      for (const k of unset) delete overrides[k];
      body.overrides = { ...overrides, ...set };
    }
    const t = await client.updateTenant(ref, body);
    ctx.out.result(t, () => changedTenant(t));
    return EXIT.OK;
  },
};

const provision: Command = {
  name: 'tenant provision', args: '<id|slug>', arity: [1, 1],
  summary: 'Retry provisioning a tenant whose provisioning failed',
  details: [
    "Only a tenant still provisioning is provisioned (its storage is created or finished, then it is active);",
    'the API refuses an active one (INVALID_STATE) and one another call is provisioning (PROVISIONING_IN_PROGRESS).',
  ].join('\n'),
  examples: ['tenant provision acme'],
  async run(ctx, a) {
    const t = await ctx.client().provision(a.positionals[0]!);
    ctx.out.result(t, () => changedTenant(t));
    return EXIT.OK;
  },
};

const migrate: Command = {
  name: 'tenant migrate', args: '<id|slug>', arity: [1, 1],
  summary: "Apply the catalogue's pending migrations to one tenant (exit 1 when one fails)",
  details: 'The catalogue is what `migrations add` or `migrate` uploaded; `migrate` does this for every pending tenant.',
  examples: ['tenant migrate acme', 'tenant migrate acme --json'],
  async run(ctx, a) {
    const ref = a.positionals[0]!;
    const r = await ctx.client().migrateTenant(ref);
    ctx.out.result(r, () => keyValues([
      ['tenant', ref === r.tenantId ? ref : `${ref} (${r.tenantId})`], ['state', r.state], ['applied', list(r.applied)], ['error', r.error],
    ]));
    return r.state === 'current' ? EXIT.OK : EXIT.FAILED;
  },
};

/** `tenant update`, `tenant provision`, `tenant migrate`. */
export const tenantChangeCommands: Command[] = [update, provision, migrate];
