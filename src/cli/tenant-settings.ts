/** `tenant jwt set|remove`, `tenant geo set|clear`: a tenant's identity provider and geo policy. */
import type { GeoPolicy, TenantView } from './client.js';
import { EXIT, items, str, UsageError, type Args, type Command } from './command.js';
import { keyValues, list } from './format.js';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const jwtLines = (t: TenantView) => keyValues(t.jwt
  ? [['tenant', t.slug], ['issuer', t.jwt.issuer], ['audience', t.jwt.audience], ['jwks-url', t.jwt.jwksUrl],
    ['claim', t.jwt.claim], ['algorithms', list(t.jwt.algorithms ?? [])], ['version', t.version]]
  : [['tenant', t.slug], ['jwt', 'none (platform tokens only)'], ['version', t.version]]);

const geoLines = (t: TenantView) => keyValues([
  ['tenant', t.slug], ['allow', list(t.geo?.allowCountries ?? [])], ['block', list(t.geo?.blockCountries ?? [])],
  ['ip-allow', list(t.geo?.ipAllow ?? [])], ['version', t.version],
]);

const jwtSet: Command = {
  name: 'tenant jwt set', args: '<id|slug>', arity: [1, 1],
  summary: "Set the tenant's identity provider: tokens it signs are accepted for this tenant",
  details: 'Replaces the whole setting. The issuer is unique across tenants (ISSUER_TAKEN otherwise).',
  options: {
    issuer: { type: 'string', arg: 'ISS', required: true, help: 'the `iss` its tokens carry' },
    audience: { type: 'string', arg: 'AUD', required: true, help: 'the `aud` its tokens must carry' },
    'jwks-url': { type: 'string', arg: 'URL', required: true, help: 'where its public keys are (JWKS, http or https)' },
    claim: { type: 'string', arg: 'NAME', help: 'the claim naming the tenant (default tid)' },
    algorithms: { type: 'string', arg: 'A,B', multiple: true, help: `accepted algorithms (default RS256,ES256): ${ALGORITHMS.join(', ')}` },
  },
  examples: ['tenant jwt set acme --issuer https://idp.acme.test --audience acme-api --jwks-url https://idp.acme.test/jwks.json --algorithms ES256'],
  async run(ctx, a) {
    const algorithms = items(a, 'algorithms');
    const bad = algorithms.find((x) => !(ALGORITHMS as readonly string[]).includes(x));
    if (bad) throw new UsageError(`--algorithms: ${bad} is not one of ${ALGORITHMS.join(', ')}`);
    const t = await ctx.client().setJwt(a.positionals[0]!, {
      issuer: str(a, 'issuer')!, audience: str(a, 'audience')!, jwksUrl: str(a, 'jwks-url')!, claim: str(a, 'claim'),
      algorithms: algorithms.length ? algorithms as (typeof ALGORITHMS)[number][] : undefined,
    });
    ctx.out.result(t, () => jwtLines(t));
    return EXIT.OK;
  },
};

const jwtRemove: Command = {
  name: 'tenant jwt remove', args: '<id|slug>', arity: [1, 1],
  summary: "Remove the tenant's identity provider (platform tokens only)",
  examples: ['tenant jwt remove acme'],
  async run(ctx, a) {
    const t = await ctx.client().removeJwt(a.positionals[0]!);
    ctx.out.result(t, () => jwtLines(t));
    return EXIT.OK;
  },
};

/** The lists given on the command line; `--allow ''` empties one, a list not given is undefined. */
function geoLists(a: Args): Partial<Record<keyof GeoPolicy, string[]>> {
  const given = (name: string) => a.values[name] !== undefined;
  return {
    ...(given('allow') ? { allowCountries: items(a, 'allow').map((c) => c.toUpperCase()) } : {}),
    ...(given('block') ? { blockCountries: items(a, 'block').map((c) => c.toUpperCase()) } : {}),
    ...(given('ip-allow') ? { ipAllow: items(a, 'ip-allow') } : {}),
  };
}

const geoSet: Command = {
  name: 'tenant geo set', args: '<id|slug>', arity: [1, 1],
  summary: "Change the tenant's geo policy: allowed and blocked countries, IP allowlist",
  details: [
    'Only the lists given change; the others keep their values (the tool reads them and sends the whole',
    "policy). An empty value empties one list: --allow ''. Countries are ISO 3166 alpha-2 codes.",
  ].join('\n'),
  options: {
    allow: { type: 'string', arg: 'CC,..', multiple: true, help: 'the only countries served (empty: all)' },
    block: { type: 'string', arg: 'CC,..', multiple: true, help: 'countries refused' },
    'ip-allow': { type: 'string', arg: 'CIDR,..', multiple: true, help: 'client networks served (empty: all), IPv4 or IPv6' },
  },
  examples: ['tenant geo set acme --allow DE,FR --block RU', "tenant geo set acme --ip-allow 203.0.113.0/24 --allow ''"],
  async run(ctx, a) {
    const lists = geoLists(a);
    if (Object.keys(lists).length === 0) throw new UsageError('nothing to change: give --allow, --block or --ip-allow');
    const ref = a.positionals[0]!;
    const client = ctx.client();
    const complete = Object.keys(lists).length === 3;
    const current = complete ? null : (await client.getTenant(ref)).geo;
    const t = await client.setGeo(ref, {
      allowCountries: lists.allowCountries ?? current?.allowCountries ?? [],
      blockCountries: lists.blockCountries ?? current?.blockCountries ?? [],
      ipAllow: lists.ipAllow ?? current?.ipAllow ?? [],
    });
    ctx.out.result(t, () => geoLines(t));
    return EXIT.OK;
  },
};

const geoClear: Command = {
  name: 'tenant geo clear', args: '<id|slug>', arity: [1, 1],
  summary: 'Empty every list of the geo policy: all countries and networks are served',
  examples: ['tenant geo clear acme'],
  async run(ctx, a) {
    const t = await ctx.client().setGeo(a.positionals[0]!, { allowCountries: [], blockCountries: [], ipAllow: [] });
    ctx.out.result(t, () => geoLines(t));
    return EXIT.OK;
  },
};

/** The `tenant jwt` and `tenant geo` groups. */
export const tenantSettingCommands: Command[] = [jwtSet, jwtRemove, geoSet, geoClear];
