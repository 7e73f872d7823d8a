import { describe, expect, it } from 'vitest';
import { importMasterKey, open, seal, sealedKid, UnknownKeyError } from '../../src/crypto/secret-box.js';

const keyB64 = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

describe('secret box', () => {
  it('round-trips a secret bound to its tenant', async () => {
    const key = await importMasterKey(keyB64);
    const sealed = await seal(key, 'postgres://u:p@h/db', 'tenant-a');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('postgres');
    expect(await open(key, sealed, 'tenant-a')).toBe('postgres://u:p@h/db');
  });

  it('refuses a secret moved to another tenant, tampered with, or opened with another key', async () => {
    const key = await importMasterKey(keyB64);
    const sealed = await seal(key, 'postgres://u:p@h/db', 'tenant-a');
    await expect(open(key, sealed, 'tenant-b')).rejects.toThrow();
    const [v, iv, ct] = sealed.split('.');
    // The first character carries six whole bits of the first ciphertext byte.
    const flipped = `${v}.${iv}.${ct!.startsWith('A') ? 'B' : 'A'}${ct!.slice(1)}`;
    await expect(open(key, flipped, 'tenant-a')).rejects.toThrow();
    const other = await importMasterKey(btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))));
    await expect(open(other, sealed, 'tenant-a')).rejects.toThrow();
  });

  it('refuses a master key of the wrong size', async () => {
    await expect(importMasterKey(btoa('short'))).rejects.toThrow(/32 bytes/);
  });
});

describe('secret box under a key ring', () => {
  const k = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const [old, next, legacy] = [k(), k(), k()];

  it('seals under the current key and names it; a bare key and k0 keep the old format', async () => {
    const sealed = await seal(await importMasterKey(`k2:${next},k1:${old}`), 'postgres://u:p@h/db', 'tenant-a');
    expect(sealed).toMatch(/^v2\.k2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealedKid(sealed)).toBe('k2');
    expect(await seal(await importMasterKey(legacy), 'x', 'tenant-a')).toMatch(/^v1\.[^.]+\.[^.]+$/);
    expect(await seal(await importMasterKey(`k0:${legacy},k1:${old}`), 'x', 'tenant-a')).toMatch(/^v1\./);
  });

  it("opens today's format as k0, with a bare key or a ring that still has k0", async () => {
    const sealed = await seal(await importMasterKey(legacy), 'postgres://legacy', 'tenant-a');
    expect(sealedKid(sealed)).toBe('k0');
    expect(await open(await importMasterKey(`k1:${old},k0:${legacy}`), sealed, 'tenant-a')).toBe('postgres://legacy');
    const without = open(await importMasterKey(`k1:${old}`), sealed, 'tenant-a');
    await expect(without).rejects.toBeInstanceOf(UnknownKeyError);
    await expect(without).rejects.toThrow('sealed under key k0, which is not in the MASTER_KEY ring');
  });

  it('opens a secret sealed under k1 with the ring k2,k1 and refuses it with k2 alone', async () => {
    const sealed = await seal(await importMasterKey(`k1:${old}`), 'postgres://one', 'tenant-a');
    expect(sealed).toMatch(/^v2\.k1\./);
    expect(await open(await importMasterKey(`k2:${next},k1:${old}`), sealed, 'tenant-a')).toBe('postgres://one');
    await expect(open(await importMasterKey(`k2:${next}`), sealed, 'tenant-a')).rejects.toMatchObject({ name: 'UnknownKeyError', kid: 'k1' });
    // The id picks the key: the right id on another key does not open it.
    await expect(open(await importMasterKey(`k1:${next}`), sealed, 'tenant-a')).rejects.not.toBeInstanceOf(UnknownKeyError);
    await expect(open(await importMasterKey(`k2:${next},k1:${old}`), sealed, 'tenant-b')).rejects.toThrow();
  });

  it('refuses a relabelled secret, a malformed one, and a ring with a bad key', async () => {
    const ring = await importMasterKey(`k2:${next},k1:${old}`);
    const sealed = await seal(ring, 'postgres://one', 'tenant-a');
    await expect(open(ring, sealed.replace('v2.k2.', 'v2.k1.'), 'tenant-a')).rejects.toThrow();
    for (const bad of ['v2.K2.a.b', 'v2.k2.a', 'v3.k2.a.b', 'v1.a', '']) {
      expect(sealedKid(bad)).toBeNull();
      await expect(open(ring, bad, 'tenant-a')).rejects.toThrow('unrecognised sealed secret');
    }
    await expect(importMasterKey(`k2:${next},k1:${btoa('short')}`)).rejects.toThrow('MASTER_KEY entry 2: must be 32 bytes, base64-encoded');
  });
});
