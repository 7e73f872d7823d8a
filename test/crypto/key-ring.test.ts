/** Key rings: the variable format, its refusals (naming no secret), and key selection. */
import { describe, expect, it } from 'vitest';
import { currentKey, keyFor, kidsOf, parseKeyRing, type KeyRing } from '../../src/crypto/key-ring.js';
import { parseConfig, type Env } from '../../src/env.js';
import { parseControlConfig, type ControlEnv } from '../../src/control/env.js';
import { checkMasterSecret } from '../../src/crypto/secret-box.js';

const S1 = 'a'.repeat(32);
const S2 = 'b'.repeat(40);
const ring = (value: string, check?: (s: string) => string | null): KeyRing => {
  const r = parseKeyRing(value, check);
  if (!r.ok) throw new Error(r.error);
  return r.ring;
};
const refusal = (value: string, check?: (s: string) => string | null): string => {
  const r = parseKeyRing(value, check);
  if (r.ok) throw new Error('parsed');
  return r.error;
};

describe('key ring format', () => {
  it('reads kid:secret entries in order, the first current', () => {
    const r = ring(`k2:${S2},k1:${S1}`);
    expect(r.current).toBe('k2');
    expect(kidsOf(r)).toEqual(['k2', 'k1']);
    expect(r.keys.get('k1')).toBe(S1);
    expect(currentKey(r)).toEqual({ kid: 'k2', key: S2 });
  });

  it('reads a bare value as the one key k0, exactly as given', () => {
    const r = ring(`${S1} `);
    expect(r.current).toBe('k0');
    expect([...r.keys]).toEqual([['k0', `${S1} `]]);
  });

  it('ignores whitespace around entries', () => {
    const r = ring(` k2:${S2} , k1:${S1} `);
    expect([...r.keys]).toEqual([['k2', S2], ['k1', S1]]);
  });

  it('refuses a bare secret that contains a colon rather than splitting it into a key id and another secret', () => {
    const bare = [`Zm9v+YmFy/${S1}:tail`, `passphrase: ${S1}`, `Prefix:${S1}`, `k1:${S1}:x`, `a:b:${S1}`];
    for (const value of bare) {
      const error = refusal(value);
      expect(error, value).toMatch(/^(key id must be|secret must not contain)/);
      expect(error).toContain("a value containing ':' is read as a key ring");
      for (const s of [S1, 'Zm9v', 'tail', 'passphrase', 'Prefix']) expect(error).not.toContain(s);
    }
  });

  it('accepts every kid of [a-z0-9_-]{1,32}', () => {
    expect(kidsOf(ring(`a:${S1},2026-12_b:${S1},${'z'.repeat(32)}:${S1}`))).toEqual(['a', '2026-12_b', 'z'.repeat(32)]);
  });

  it.each([
    ['', 'is empty'],
    ['  ', 'is empty'],
    [`${S1},${S2}`, 'has several entries without key ids'],
    [`k2:${S2},${S1}`, 'entry 2: must be kid:secret'],
    [`K2:${S2}`, 'key id must be'],
    [`k 2:${S2}`, 'key id must be'],
    [`${'k'.repeat(33)}:${S2}`, 'key id must be'],
    [`:${S2}`, 'key id must be'],
    [`k1:${S1},k1:${S2}`, 'entry 2: key id is used twice'],
    ['k1:', 'has no secret'],
    [`k2:${S2},`, 'entry 2: must be kid:secret'],
  ])('refuses %j: %s', (value, message) => {
    const error = refusal(value);
    expect(error).toContain(message);
    for (const s of [S1, S2]) expect(error).not.toContain(s);
  });

  it("applies the variable's own check to every secret, naming the entry, never the secret", () => {
    const short = (s: string) => (s.length >= 32 ? null : 'must be at least 32 characters');
    expect(refusal(`k2:${S2},k1:short-secret`, short)).toBe('entry 2: must be at least 32 characters');
    expect(refusal('short-secret', short)).toBe('must be at least 32 characters');
    const key = btoa(String.fromCharCode(...Uint8Array.from({ length: 32 }, (_, i) => i * 7)));
    expect(ring(`k1:${key}`, checkMasterSecret).current).toBe('k1');
    expect(refusal(`k1:${key},k0:${btoa('sixteen bytes!!!')}`, checkMasterSecret)).toBe('entry 2: must be 32 bytes, base64-encoded');
    expect(refusal(`k1:not base64 at all!`, checkMasterSecret)).toBe('must be 32 bytes, base64-encoded');
  });
});

describe('key selection', () => {
  const r = ring(`k2:${S2},k1:${S1}`);
  it('picks a key by its id; an unknown id has none', () => {
    expect(keyFor(r, 'k1')).toBe(S1);
    expect(keyFor(r, 'k2')).toBe(S2);
    expect(keyFor(r, 'k3')).toBeUndefined();
  });

  it('gives a value without an id the key k0 only, if the ring has it', () => {
    expect(keyFor(r, undefined)).toBeUndefined();
    expect(keyFor(ring(`k1:${S1},k0:${S2}`), undefined)).toBe(S2);
    expect(keyFor(ring(S1), undefined)).toBe(S1);
  });
});

describe('configuration', () => {
  const key = (n: number) => btoa(String.fromCharCode(...Uint8Array.from({ length: 32 }, (_, i) => (i * 13 + n) % 256)));
  const router = (over: Partial<Env>): Env => ({
    TENANT_BASE_DOMAINS: 'example.com', PLATFORM_ISSUER: 'iss', PLATFORM_AUDIENCE: 'aud', PLATFORM_JWT_SECRET: S1, MASTER_KEY: key(1),
    CONTROL_DATABASE_URL: 'postgres://u:p@h/db', REGION_DATABASE_URLS: '{}', ...over,
  } as Env);
  const control = (over: Partial<ControlEnv>): ControlEnv => ({
    CONTROL_DATABASE_URL: 'postgres://u:p@h/db', MASTER_KEY: key(1), ADMIN_TOKEN: S2, CONTROL_HOSTS: 'control.test',
    PROVISIONER: 'local', REGION_ADMIN_URLS: '{}', ...over,
  });

  it('parses both rings in the router, bare values as k0', () => {
    const c = parseConfig(router({ PLATFORM_JWT_SECRET: `p2:${S2},p1:${S1}` }));
    expect(kidsOf(c.PLATFORM_JWT_SECRET)).toEqual(['p2', 'p1']);
    expect(c.MASTER_KEY.current).toBe('k0');
    expect(c.MASTER_KEY.keys.get('k0')).toBe(key(1));
  });

  it('refuses a bare PLATFORM_JWT_SECRET containing a colon at start-up instead of reading part of it as a key id', () => {
    expect(() => parseConfig(router({ PLATFORM_JWT_SECRET: `Secret:${S1}` }))).toThrow(/PLATFORM_JWT_SECRET: key id must be .*a bare secret must not contain ':'/);
    expect(() => parseConfig(router({ PLATFORM_JWT_SECRET: `pass: ${S1}` }))).toThrow(/PLATFORM_JWT_SECRET: secret must not contain ':', ',' or whitespace/);
    expect(() => parseConfig(router({ PLATFORM_JWT_SECRET: `k1:${S1}:x` }))).toThrow(/PLATFORM_JWT_SECRET: secret must not contain/);
    expect(kidsOf(parseConfig(router({ PLATFORM_JWT_SECRET: `k1:${S1}` })).PLATFORM_JWT_SECRET)).toEqual(['k1']);
  });

  it('names the bad variable and the entry, never the value', () => {
    const bad = `k2:${key(2)},k1:${'x'.repeat(12)}`;
    expect(() => parseConfig(router({ MASTER_KEY: bad }))).toThrow('MASTER_KEY: entry 2: must be 32 bytes, base64-encoded');
    expect(() => parseConfig(router({ PLATFORM_JWT_SECRET: `k1:${S1},k1:${S2}` }))).toThrow(/PLATFORM_JWT_SECRET: entry 2: key id is used twice/);
    expect(() => parseControlConfig(control({ MASTER_KEY: bad }))).toThrow('MASTER_KEY: entry 2: must be 32 bytes, base64-encoded');
    for (const fn of [() => parseConfig(router({ MASTER_KEY: bad })), () => parseControlConfig(control({ MASTER_KEY: bad }))]) {
      try { fn(); } catch (err) { expect(String(err)).not.toContain(key(2)); }
    }
  });

  it("refuses the examples' placeholders: a key of one repeated byte, a secret or admin token saying 'replace'", () => {
    const zeros = btoa(String.fromCharCode(...new Uint8Array(32)));
    expect(() => parseConfig(router({ MASTER_KEY: `k1:${zeros}` }))).toThrow('MASTER_KEY: is a placeholder (one byte repeated), not a random key');
    expect(() => parseControlConfig(control({ MASTER_KEY: zeros }))).toThrow(/MASTER_KEY: is a placeholder/);
    expect(() => parseConfig(router({ PLATFORM_JWT_SECRET: 'k1:replace-with-at-least-32-random-characters' })))
      .toThrow('PLATFORM_JWT_SECRET: is the placeholder of the examples, not a random secret');
    expect(() => parseControlConfig(control({ ADMIN_TOKEN: 'replace-with-at-least-32-random-characters' }))).toThrow(/ADMIN_TOKEN: is the placeholder/);
  });

  it('parses the MASTER_KEY ring in the control plane', () => {
    expect(kidsOf(parseControlConfig(control({ MASTER_KEY: `k2:${key(2)},k1:${key(1)}` })).MASTER_KEY)).toEqual(['k2', 'k1']);
  });
});
