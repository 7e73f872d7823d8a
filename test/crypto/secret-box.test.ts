import { describe, expect, it } from 'vitest';
import { importMasterKey, open, seal } from '../../src/crypto/secret-box.js';

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
    const other = await importMasterKey(btoa(String.fromCharCode(...new Uint8Array(32))));
    await expect(open(other, sealed, 'tenant-a')).rejects.toThrow();
  });

  it('refuses a master key of the wrong size', async () => {
    await expect(importMasterKey(btoa('short'))).rejects.toThrow(/32 bytes/);
  });
});
