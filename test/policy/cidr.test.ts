import { describe, expect, it } from 'vitest';
import { inCidr, parseCidr, parseIp } from '../../src/policy/cidr.js';

const inside = (ip: string, cidr: string) => inCidr(parseIp(ip)!, parseCidr(cidr));

describe('CIDR matching', () => {
  it('matches IPv4 ranges at their edges', () => {
    expect(inside('203.0.113.0', '203.0.113.0/24')).toBe(true);
    expect(inside('203.0.113.255', '203.0.113.0/24')).toBe(true);
    expect(inside('203.0.114.0', '203.0.113.0/24')).toBe(false);
    expect(inside('10.1.2.3', '0.0.0.0/0')).toBe(true);
    expect(inside('10.1.2.3', '10.1.2.3')).toBe(true);
    expect(inside('10.1.2.4', '10.1.2.3/32')).toBe(false);
  });

  it('matches IPv6 ranges, including compressed forms', () => {
    expect(inside('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(inside('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::/32')).toBe(true);
    expect(inside('2001:db9::1', '2001:db8::/32')).toBe(false);
    expect(inside('::1', '::1/128')).toBe(true);
    expect(inside('fe80::1', '::/0')).toBe(true);
  });

  it('treats IPv4-mapped IPv6 as IPv4 and never mixes families', () => {
    expect(inside('::ffff:203.0.113.7', '203.0.113.0/24')).toBe(true);
    expect(inside('203.0.113.7', '2001:db8::/32')).toBe(false);
    expect(inside('2001:db8::1', '0.0.0.0/0')).toBe(false);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1:2:3:4:5:6:7:8:9', '1::2::3', 'gggg::1', 'abc'])('rejects address %j', (ip) => {
    expect(parseIp(ip)).toBeNull();
  });

  it.each(['10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/x', '2001:db8::/129', 'nonsense/8', '10.0.0.0/8/8'])('rejects range %j', (c) => {
    expect(() => parseCidr(c)).toThrow(/invalid CIDR/);
  });
});
