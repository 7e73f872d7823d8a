/** The bootstrap's reading of the workers' variables and of .env files (pure): what it refuses, in one sentence naming the variable, never a value. */
import { describe, expect, it } from 'vitest';
import { DotenvError, parseDotenv } from '../../src/dotenv/dotenv.js';
import { bootstrapTargets, maskUrl, planLines, type BootstrapEnv } from '../../src/bootstrap/index.js';

const owner = (db: string) => `postgres://neondb_owner:ownerSecret1@ep-x.eu-central-1.aws.neon.tech/${db}?sslmode=require`;
const routerAt = (db: string, user = 'app_router', pw = 'routerSecret1') => `postgres://${user}:${pw}@ep-x-pooler.eu-central-1.aws.neon.tech/${db}?sslmode=require`;
const env = (over: { router?: Record<string, string>; control?: Record<string, string> } = {}): BootstrapEnv => ({
  control: { CONTROL_DATABASE_URL: owner('control'), REGION_ADMIN_URLS: JSON.stringify({ 'aws-eu-central-1': owner('app') }), ...over.control },
  router: {
    CONTROL_DATABASE_URL: routerAt('control', 'control_router', 'controlSecret1'),
    REGION_DATABASE_URLS: JSON.stringify({ 'aws-eu-central-1': routerAt('app') }), ...over.router,
  },
});

describe('bootstrapTargets', () => {
  it("takes the roles' names and passwords from the router's URLs and the owners from the control plane's", () => {
    const t = bootstrapTargets(env());
    expect(t.control).toMatchObject({ database: 'control', role: { name: 'control_router', password: 'controlSecret1' } });
    expect(t.regions).toMatchObject([{ region: 'aws-eu-central-1', database: 'app', role: { name: 'app_router', password: 'routerSecret1' } }]);
    expect(t.regions[0]!.ownerUrl).toContain('neondb_owner');
  });

  it('reads a login role of the alternating pair (<group>_a, <group>_b) as a member of its group', () => {
    const t = bootstrapTargets(env({ router: { CONTROL_DATABASE_URL: routerAt('control', 'control_router_b', 'controlSecret1'), REGION_DATABASE_URLS: JSON.stringify({ 'aws-eu-central-1': routerAt('app', 'app_router_a') }) } }));
    expect(t.control).toMatchObject({ role: { name: 'control_router_b' }, group: 'control_router' });
    expect(t.regions).toMatchObject([{ role: { name: 'app_router_a' }, group: 'app_router' }]);
    expect(bootstrapTargets(env()).regions[0]!.group).toBe('app_router');
    expect(() => bootstrapTargets(env({ router: { CONTROL_DATABASE_URL: routerAt('control', 'app_router_b') } }))).toThrow("must log in as a role other than the regions' router role");
    expect(() => bootstrapTargets(env({ router: { REGION_DATABASE_URLS: JSON.stringify({ 'aws-eu-central-1': routerAt('app', 'app_router_c') }) } }))).toThrow('logs in as app_router_c, but control ROUTER_ROLE is app_router');
  });

  it.each([
    [{ router: { REGION_DATABASE_URLS: JSON.stringify({ 'aws-us-east-2': routerAt('app') }) } }, 'router REGION_DATABASE_URLS names region aws-us-east-2, which control REGION_ADMIN_URLS does not'],
    [{ control: { ROUTER_ROLE: 'other_router' } }, 'router REGION_DATABASE_URLS.aws-eu-central-1 logs in as app_router, but control ROUTER_ROLE is other_router'],
    [{ router: { CONTROL_DATABASE_URL: routerAt('control', 'neondb_owner') } }, 'router CONTROL_DATABASE_URL must not log in as the owner of control CONTROL_DATABASE_URL'],
    [{ router: { CONTROL_DATABASE_URL: routerAt('control', 'app_router') } }, "router CONTROL_DATABASE_URL must log in as a role other than the regions' router role"],
    [{ router: { CONTROL_DATABASE_URL: routerAt('other') } }, 'router CONTROL_DATABASE_URL names another database than control CONTROL_DATABASE_URL'],
    [{ router: { CONTROL_DATABASE_URL: routerAt('control', 'control_router', 'short') } }, 'router CONTROL_DATABASE_URL needs a password of at least 8 printable ASCII characters'],
    [{ control: { REGION_ADMIN_URLS: '{not json' } }, 'control REGION_ADMIN_URLS is not JSON'],
    [{ control: { CONTROL_DATABASE_URL: '' } }, 'control CONTROL_DATABASE_URL is not set'],
  ])('refuses %j', (over, message) => {
    expect(() => bootstrapTargets(env(over))).toThrow(message);
    try { bootstrapTargets(env(over)); } catch (err) { expect((err as Error).message).not.toMatch(/Secret1/); }
  });

  it('masks passwords in what it prints, the dry-run plan included', () => {
    expect(maskUrl(owner('app'))).toBe('postgres://neondb_owner:***@ep-x.eu-central-1.aws.neon.tech/app?sslmode=require');
    const plan = planLines(bootstrapTargets(env()), { control: [{ name: 'a.sql', sql: '' }], tenant: [] }).join('\n');
    expect(plan).toContain('region aws-eu-central-1 database app');
    expect(plan).not.toMatch(/Secret1/);
  });
});

describe('parseDotenv', () => {
  it('reads NAME=value, quoted values verbatim, and skips comments and blank lines', () => {
    const text = ['# router', '', 'A=plain', "B='{\"x\":\"postgres://u:p@h/db\"}'", 'C="with # hash"', 'D=value # comment', 'export E=e', ' F = spaced '].join('\n');
    expect(parseDotenv(text)).toEqual({ A: 'plain', B: '{"x":"postgres://u:p@h/db"}', C: 'with # hash', D: 'value', E: 'e', F: 'spaced' });
  });

  it('refuses a line that is not NAME=value, naming the line only', () => {
    expect(() => parseDotenv('A=1\nsecret-value')).toThrow(new DotenvError('line 2 is not NAME=value'));
    expect(() => parseDotenv("A='open")).toThrow('line 1 has an unterminated quote');
  });
});
