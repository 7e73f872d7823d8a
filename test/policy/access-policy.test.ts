import { describe, expect, it } from 'vitest';
import { checkGeo, checkResidency } from '../../src/policy/access-policy.js';
import { jurisdictionOf, satisfiesResidency } from '../../src/regions.js';

const placement = (region: string) => ({ region, strategy: 'row' as const, schemaName: 'shared', roleName: null, databaseName: null, connectionSecret: null });

describe('residency', () => {
  it('maps regions to jurisdictions and knows no others', () => {
    expect(jurisdictionOf('aws-eu-central-1')).toBe('EU');
    expect(jurisdictionOf('aws-us-east-2')).toBe('US');
    expect(jurisdictionOf('aws-eu-west-2')).toBe('UK');
    expect(jurisdictionOf('mars-1')).toBeNull();
    expect(jurisdictionOf('toString')).toBeNull();
    expect(satisfiesResidency('aws-eu-central-1', 'EU')).toBe(true);
    expect(satisfiesResidency('aws-us-east-2', 'EU')).toBe(false);
    expect(satisfiesResidency('aws-us-east-2', null)).toBe(true);
  });

  it('allows an EU tenant in an EU region and refuses it anywhere else with 451', () => {
    expect(checkResidency({ region: 'aws-eu-central-1', residency: 'EU', placement: placement('aws-eu-central-1') })).toBeNull();
    expect(checkResidency({ region: 'aws-us-east-2', residency: 'EU', placement: placement('aws-us-east-2') }))
      .toMatchObject({ status: 451, code: 'RESIDENCY_VIOLATION' });
  });

  it('fails closed when the placement disagrees with the tenant or the region is unknown', () => {
    expect(checkResidency({ region: 'aws-eu-central-1', residency: 'EU', placement: placement('aws-us-east-2') }))
      .toMatchObject({ status: 451 });
    expect(checkResidency({ region: 'mars-1', residency: null, placement: null })).toMatchObject({ status: 451 });
  });
});

describe('geo policy', () => {
  const geo = (g: Partial<{ allowCountries: string[]; blockCountries: string[]; ipAllow: string[] }>) =>
    ({ allowCountries: [], blockCountries: [], ipAllow: [], ...g });

  it('lets everything through without a policy', () => {
    expect(checkGeo(null, { country: null, clientIp: null })).toBeNull();
  });

  it('blocks listed countries and only those', () => {
    expect(checkGeo(geo({ blockCountries: ['KP'] }), { country: 'KP', clientIp: null })).toMatchObject({ status: 403, code: 'GEO_BLOCKED' });
    expect(checkGeo(geo({ blockCountries: ['KP'] }), { country: 'DE', clientIp: null })).toBeNull();
  });

  it('with an allowlist, refuses other and unknown countries', () => {
    const g = geo({ allowCountries: ['DE', 'FR'] });
    expect(checkGeo(g, { country: 'FR', clientIp: null })).toBeNull();
    expect(checkGeo(g, { country: 'US', clientIp: null })).toMatchObject({ code: 'GEO_BLOCKED' });
    expect(checkGeo(g, { country: null, clientIp: null })).toMatchObject({ code: 'GEO_BLOCKED' });
  });

  it('with an IP allowlist, refuses other, missing and unparsable addresses', () => {
    const g = geo({ ipAllow: ['203.0.113.0/24', '2001:db8::/32'] });
    expect(checkGeo(g, { country: null, clientIp: '203.0.113.9' })).toBeNull();
    expect(checkGeo(g, { country: null, clientIp: '2001:db8::42' })).toBeNull();
    expect(checkGeo(g, { country: null, clientIp: '198.51.100.1' })).toMatchObject({ status: 403, code: 'IP_NOT_ALLOWED' });
    expect(checkGeo(g, { country: null, clientIp: null })).toMatchObject({ code: 'IP_NOT_ALLOWED' });
    expect(checkGeo(g, { country: null, clientIp: 'not-an-ip' })).toMatchObject({ code: 'IP_NOT_ALLOWED' });
  });
});
