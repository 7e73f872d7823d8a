import { describe, expect, it } from 'vitest';
import { TtlCache } from '../../src/cache/ttl-cache.js';

describe('TtlCache', () => {
  it('expires entries at their TTL', () => {
    let now = 1000;
    const c = new TtlCache<string>(10, () => now);
    c.set('a', 'x', 500);
    now = 1499;
    expect(c.get('a')).toBe('x');
    now = 1500;
    expect(c.get('a')).toBeUndefined();
  });

  it('evicts the least recently used entry at capacity', () => {
    const c = new TtlCache<number>(2);
    c.set('a', 1, 10_000);
    c.set('b', 2, 10_000);
    expect(c.get('a')).toBe(1);
    c.set('c', 3, 10_000);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });

  it('peek reads a live entry without making it recent', () => {
    let now = 0;
    const c = new TtlCache<number>(2, () => now);
    c.set('a', 1, 100);
    c.set('b', 2, 10_000);
    expect(c.peek('a')).toBe(1);
    c.set('c', 3, 10_000); // 'a' is still the oldest: peek did not refresh it
    expect(c.peek('a')).toBeUndefined();
    now = 20_000;
    expect(c.peek('b')).toBeUndefined();
  });

  it('an entry born expired is not stored and evicts nothing', () => {
    const c = new TtlCache<number>(1);
    c.set('a', 1, 10_000);
    c.set('b', 2, 0);
    expect(c.get('a')).toBe(1);
    expect(c.get('b')).toBeUndefined();
  });

  it('caches null as a value (negative caching)', () => {
    const c = new TtlCache<string | null>(2);
    c.set('gone', null, 10_000);
    expect(c.get('gone')).toBeNull();
  });
});
