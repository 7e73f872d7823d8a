import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/cache/token-bucket.js';

describe('TokenBucket', () => {
  it('gives its burst at once, then refills at its rate up to the burst', () => {
    let now = 0;
    const b = new TokenBucket(3, 2, () => now);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    now = 499;
    expect(b.take()).toBe(false);
    now = 500;
    expect(b.take()).toBe(true);
    now = 60_000; // a long pause refills to the burst, no more
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });

  it('a clock stepping back refills nothing', () => {
    let now = 10_000;
    const b = new TokenBucket(1, 1, () => now);
    expect(b.take()).toBe(true);
    now = 0;
    expect(b.take()).toBe(false);
    now = 999;
    expect(b.take()).toBe(false);
    now = 1000;
    expect(b.take()).toBe(true);
  });
});
