/**
 * The pure parts of tenant keys and tenant data: the isolate key cache (per record version,
 * failures not kept, bounded), field sealing's binding to tenant and field, the signatures of
 * manifests and receipts across a ring rotation, and the archive check.
 */
import { describe, expect, it } from 'vitest';
import { parseKeyRing } from '../../src/crypto/key-ring.js';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { newWrappedKey, rewrap, unwrapKey, unwrapRaw } from '../../src/tenant-keys/data-key.js';
import { fieldRefusal, openField, sealField } from '../../src/tenant-keys/field-seal.js';
import { TenantKeyCache } from '../../src/tenant-keys/key-cache.js';
import { canonicalJson, sha256Hex, signDocument, verifyDocument } from '../../src/tenant-data/signing.js';
import { checkArchive } from '../../src/tenant-data/archive.js';

const secret = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const ring = (value: string) => { const r = parseKeyRing(value); if (!r.ok) throw new Error(r.error); return r.ring; };
const A = crypto.randomUUID();
const B = crypto.randomUUID();

describe('TenantKeyCache', () => {
  it('unwraps once per tenant record, again when the version or the wrapped key changes, and never keeps a failure', async () => {
    const cache = new TenantKeyCache({ capacity: 2 });
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) as CryptoKey;
    let loads = 0;
    const load = async () => { loads++; return key; };
    await cache.get({ id: A, version: 1, dataKey: 'w1' }, load);
    await cache.get({ id: A, version: 1, dataKey: 'w1' }, load);
    expect(loads).toBe(1);
    await cache.get({ id: A, version: 2, dataKey: 'w1' }, load);
    await cache.get({ id: A, version: 2, dataKey: 'w2' }, load);
    expect(loads).toBe(3);
    await expect(cache.get({ id: B, version: 1, dataKey: 'w' }, () => Promise.reject(new Error('ring lacks the key')))).rejects.toThrow();
    await cache.get({ id: B, version: 1, dataKey: 'w' }, load);
    expect(loads).toBe(4);
    // Bounded: a third tenant evicts the least recently used.
    await cache.get({ id: crypto.randomUUID(), version: 1, dataKey: 'w' }, load);
    await cache.get({ id: A, version: 2, dataKey: 'w2' }, load);
    expect(loads).toBe(6);
  });
});

describe('data keys and field sealing', () => {
  it('binds a wrapped key to its tenant, re-wraps it under the current ring key to the same key, and binds a sealed field to tenant and field', async () => {
    const [old, neu] = [secret(), secret()];
    const before = await importMasterKey(`k1:${old}`);
    const both = await importMasterKey(`k2:${neu},k1:${old}`);
    const wrapped = await newWrappedKey(before, A);
    expect(wrapped).toMatch(/^v2\.k1\./);
    await expect(unwrapRaw(before, wrapped, B)).rejects.toThrow();
    const again = await rewrap(both, wrapped, A);
    expect(again).toMatch(/^v2\.k2\./);
    expect(Buffer.from(await unwrapRaw(both, again, A)).equals(Buffer.from(await unwrapRaw(before, wrapped, A)))).toBe(true);

    const key = await unwrapKey(both, again, A);
    const sealed = await sealField(key, A, 'email', 'a@example.com');
    expect(await openField(await unwrapKey(before, wrapped, A), A, 'email', sealed)).toBe('a@example.com');
    await expect(openField(key, B, 'email', sealed)).rejects.toThrow();
    await expect(openField(key, A, 'phone', sealed)).rejects.toThrow();
    expect(fieldRefusal('users.email')).toBeNull();
    for (const bad of ['', 'a\nb', 'x'.repeat(65), 'with space', 42]) expect(fieldRefusal(bad)).not.toBeNull();
  });
});

describe('signatures and archives', () => {
  it('signs canonical JSON under the current ring key; still verifies after a rotation while the key is in the ring, not after', async () => {
    const [old, neu] = [secret(), secret()];
    const doc = await signDocument(ring(`k1:${old}`), { b: 1, a: { d: [1, 2], c: 'x' } });
    expect(doc.signature.kid).toBe('master:k1');
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,2]},"b":1}');
    expect(await verifyDocument(ring(`k2:${neu},k1:${old}`), doc)).toEqual({ valid: true, kid: 'master:k1' });
    expect(await verifyDocument(ring(`k2:${neu}`), doc)).toEqual({ valid: false, kid: 'master:k1' });
    expect((await verifyDocument(ring(`k1:${old}`), { ...doc, b: 2 })).valid).toBe(false);
    expect((await verifyDocument(ring(`k1:${old}`), { b: 1 })).valid).toBe(false);
  });

  it('checks every part of an archive against its manifest', async () => {
    const line = (part: string, item: unknown) => `${JSON.stringify({ part, item })}\n`;
    const tenant = line('tenant', { id: A });
    const rows = line('rows.t', { x: 1 }) + line('rows.t', { x: 2 });
    const manifest = { parts: [{ name: 'tenant', count: 1, sha256: await sha256Hex(tenant) }, { name: 'rows.t', count: 2, sha256: await sha256Hex(rows) }] };
    const text = `${tenant}${rows}${JSON.stringify({ manifest })}\n`;
    expect(await checkArchive(text)).toMatchObject({ ok: true, mismatched: [] });
    expect(await checkArchive(text.replace('"x":2', '"x":3'))).toMatchObject({ ok: false, mismatched: ['rows.t'] });
    expect(await checkArchive(`${line('extra', 1)}${text}`)).toMatchObject({ ok: false, mismatched: ['extra'] });
    expect(await checkArchive('not an archive')).toMatchObject({ ok: false, manifest: null });
  });
});
