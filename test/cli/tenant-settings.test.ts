/** tenantctl tenant jwt/geo: the settings set through the CLI, then shown by the API and `tenant show`. */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, tenantctl } from './support.js';

const stack = inject('stack');

describe('tenantctl tenant jwt', () => {
  it('sets the identity provider (tenant view and `tenant show` list it), then removes it', async () => {
    expect((await admin(stack, 'POST', '/tenants', { slug: 'cli-jwt', tier: 'STANDARD', region: 'aws-us-east-2' })).status).toBe(201);
    const r = await tenantctl('tenant', 'jwt', 'set', 'cli-jwt', '--issuer', 'https://idp.cli-jwt.test', '--audience', 'cli-jwt-api',
      '--jwks-url', 'https://idp.cli-jwt.test/jwks.json', '--claim', 'org', '--algorithms', 'ES256,EdDSA', '--algorithms', 'RS512');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'issuer')).toBe('https://idp.cli-jwt.test');
    expect((await admin(stack, 'GET', '/tenants/cli-jwt')).body.jwt).toEqual({
      issuer: 'https://idp.cli-jwt.test', audience: 'cli-jwt-api', jwksUrl: 'https://idp.cli-jwt.test/jwks.json',
      claim: 'org', algorithms: ['ES256', 'EdDSA', 'RS512'],
    });
    const show = await tenantctl('tenant', 'show', 'cli-jwt');
    expect(field(show.stdout, 'jwt')).toBe('https://idp.cli-jwt.test (audience cli-jwt-api, claim org)');

    // The API's defaults apply to what is not given.
    const defaults = await tenantctl('tenant', 'jwt', 'set', 'cli-jwt', '--issuer', 'https://idp2.cli-jwt.test', '--audience', 'a', '--jwks-url', 'http://127.0.0.1:1/jwks');
    expect(defaults.code, defaults.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-jwt')).body.jwt).toMatchObject({ issuer: 'https://idp2.cli-jwt.test', claim: 'tid', algorithms: ['RS256', 'ES256'] });

    const removed = await tenantctl('tenant', 'jwt', 'remove', 'cli-jwt');
    expect(removed.code, removed.stderr).toBe(0);
    expect(field(removed.stdout, 'jwt')).toBe('none (platform tokens only)');
    expect((await admin(stack, 'GET', '/tenants/cli-jwt')).body.jwt).toBeNull();
  });

  it('checks required options and algorithms locally (exit 2); the API refuses a taken issuer (exit 1)', async () => {
    const missing = await tenantctl('tenant', 'jwt', 'set', 'cli-jwt', '--issuer', 'https://x.test', '--audience', 'a');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: --jwks-url is required$/m);
    const alg = await tenantctl('tenant', 'jwt', 'set', 'cli-jwt', '--issuer', 'https://x.test', '--audience', 'a', '--jwks-url', 'https://x.test/j', '--algorithms', 'HS256');
    expect(alg.code).toBe(2);
    expect(alg.stderr).toMatch(/^error: --algorithms: HS256 is not one of RS256/m);

    expect((await admin(stack, 'POST', '/tenants', { slug: 'cli-jwt-b', tier: 'STANDARD', region: 'aws-us-east-2' })).status).toBe(201);
    expect((await tenantctl('tenant', 'jwt', 'set', 'cli-jwt-b', '--issuer', 'https://shared.cli.test', '--audience', 'b', '--jwks-url', 'https://shared.cli.test/j')).code).toBe(0);
    const taken = await tenantctl('tenant', 'jwt', 'set', 'cli-jwt', '--issuer', 'https://shared.cli.test', '--audience', 'a', '--jwks-url', 'https://shared.cli.test/j');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^error ISSUER_TAKEN: /m);
    expect((await admin(stack, 'GET', '/tenants/cli-jwt')).body.jwt).toBeNull();
  });
});

describe('tenantctl tenant geo', () => {
  it('sets lists, keeps the ones not given, empties one with "", and clears all', async () => {
    expect((await admin(stack, 'POST', '/tenants', { slug: 'cli-geo', tier: 'STANDARD', region: 'aws-eu-central-1' })).status).toBe(201);
    const r = await tenantctl('tenant', 'geo', 'set', 'cli-geo', '--allow', 'de,FR', '--allow', 'IT', '--block', 'RU', '--ip-allow', '203.0.113.0/24');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'allow')).toBe('DE, FR, IT');
    expect((await admin(stack, 'GET', '/tenants/cli-geo')).body.geo).toEqual({ allowCountries: ['DE', 'FR', 'IT'], blockCountries: ['RU'], ipAllow: ['203.0.113.0/24'] });
    const show = await tenantctl('tenant', 'show', 'cli-geo');
    expect(field(show.stdout, 'geo')).toBe('allow DE, FR, IT; block RU; ip 203.0.113.0/24');

    const partial = await tenantctl('tenant', 'geo', 'set', 'cli-geo', '--block', 'RU,BY', '--allow', '');
    expect(partial.code, partial.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-geo')).body.geo).toEqual({ allowCountries: [], blockCountries: ['RU', 'BY'], ipAllow: ['203.0.113.0/24'] });

    const bad = await tenantctl('tenant', 'geo', 'set', 'cli-geo', '--ip-allow', 'not-a-network');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error BAD_REQUEST: ipAllow: not-a-network is not a CIDR block/m);
    const nothing = await tenantctl('tenant', 'geo', 'set', 'cli-geo');
    expect(nothing.code).toBe(2);

    const cleared = await tenantctl('tenant', 'geo', 'clear', 'cli-geo');
    expect(cleared.code, cleared.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-geo')).body.geo).toEqual({ allowCountries: [], blockCountries: [], ipAllow: [] });
  });
});
