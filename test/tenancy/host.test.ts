import { describe, expect, it } from 'vitest';
import { classifyHost, normalizeHost, parseBaseDomains } from '../../src/tenancy/host.js';

describe('normalizeHost', () => {
  it.each([
    ['acme.example.com', 'acme.example.com'],
    ['ACME.Example.COM', 'acme.example.com'],
    ['acme.example.com:8787', 'acme.example.com'],
    ['acme.example.com.', 'acme.example.com'],
    ['Acme.Example.com.:443', 'acme.example.com'],
    ['bücher.test', 'xn--bcher-kva.test'],
    ['BÜCHER.test.', 'xn--bcher-kva.test'],
    ['localhost', 'localhost'],
  ])('normalises %s to %s', (raw, want) => {
    expect(normalizeHost(raw)).toBe(want);
  });

  it.each([
    [''], ['   '], ['acme..example.com'], ['-acme.example.com'], ['acme-.example.com'], ['ac me.example.com'],
    ['acme.example.com/evil'], ['user@acme.example.com'], ['acme.example.com:99999'], ['acme_1.example.com'],
    ['127.0.0.1'], ['[::1]:8787'], ['a'.repeat(64) + '.example.com'], [`${'a.'.repeat(130)}com`], ['acme.example.com?x'],
  ])('refuses %j', (raw) => {
    expect(normalizeHost(raw)).toBeNull();
  });

  it('refuses a missing header', () => {
    expect(normalizeHost(undefined)).toBeNull();
    expect(normalizeHost(null)).toBeNull();
  });
});

describe('classifyHost', () => {
  const bases = parseBaseDomains('example.com, localhost, eu.example.com');

  it('prefers the longest base domain', () => {
    expect(bases[0]).toBe('eu.example.com');
    expect(classifyHost('acme.eu.example.com', bases)).toEqual({ kind: 'subdomain', host: 'acme.eu.example.com', slug: 'acme', base: 'eu.example.com' });
  });

  it('splits subdomains, the API host, the apex and custom domains', () => {
    expect(classifyHost('acme.example.com', bases)).toMatchObject({ kind: 'subdomain', slug: 'acme' });
    expect(classifyHost('acme.localhost', bases)).toMatchObject({ kind: 'subdomain', slug: 'acme', base: 'localhost' });
    expect(classifyHost('api.example.com', bases)).toMatchObject({ kind: 'api' });
    expect(classifyHost('example.com', bases)).toMatchObject({ kind: 'apex' });
    expect(classifyHost('music.acme.com', bases)).toEqual({ kind: 'custom', host: 'music.acme.com' });
  });

  it('treats deeper names under a base as unknown: neither a tenant slug nor a custom domain', () => {
    expect(classifyHost('x.acme.example.com', bases)).toEqual({ kind: 'unknown', host: 'x.acme.example.com', base: 'example.com' });
    expect(classifyHost('login.acme.localhost', bases)).toMatchObject({ kind: 'unknown', base: 'localhost' });
    expect(classifyHost('a.b.api.eu.example.com', bases)).toMatchObject({ kind: 'unknown', base: 'eu.example.com' });
    expect(classifyHost('shop.acme.example.org', bases)).toEqual({ kind: 'custom', host: 'shop.acme.example.org' });
  });

  it('rejects a malformed base domain list at start-up', () => {
    expect(() => parseBaseDomains('')).toThrow(/empty/);
    expect(() => parseBaseDomains('exa mple.com')).toThrow(/invalid base domain/);
  });
});
