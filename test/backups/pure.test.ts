/** The backup's plaintext format and its sealing (pure, WebCrypto): lossless rows, tamper and rebinding refused. */
import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot, rowText } from '../../src/backups/format.js';
import { CorruptBackupError, openBackup, sealBackup, sha256Hex } from '../../src/backups/seal.js';

const T = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const key = () => crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) as Promise<CryptoKey>;

// A numeric with more digits than a double holds, a jsonb value, quotes and a newline escaped by PostgreSQL.
const ROWS = ['{"id": 1, "n": 12345678901234567890.123456789012, "j": {"a": [1, 2.50]}, "s": "a \\"quoted\\"\\nline"}', '{"id": 2, "n": 0.1, "j": null, "s": "}"}'];

describe('backup format', () => {
  it('keeps every row exactly as PostgreSQL wrote it (never through a JS number) and checks the header', () => {
    const text = encodeSnapshot({ tenantId: T, backupId: B, takenAt: '2026-12-03T12:00:00.000000Z', isolation: 'row' },
      [{ name: 'tracks', key: 'id', rows: ROWS }, { name: 'empty', key: 'id', rows: [] }], { tracks: { rows: 2, digest: 'abc' }, empty: { rows: 0, digest: '' } });
    const { header, tables } = decodeSnapshot(text);
    expect(header).toMatchObject({ format: 'tenant-backup-v1', tenantId: T, backupId: B, tables: [{ name: 'tracks', key: 'id', rows: 2, digest: 'abc' }, { name: 'empty', rows: 0 }] });
    expect(tables.get('tracks')).toEqual(ROWS);
    expect(tables.get('empty')).toEqual([]);
    expect(text).toContain('12345678901234567890.123456789012');
    // A row dropped, or one of a table the header does not name: refused.
    const lines = text.split('\n');
    expect(() => decodeSnapshot([lines[0], lines[1], ''].join('\n'))).toThrow(/1 rows, the header says 2/);
    expect(() => decodeSnapshot(`${text}{"t":"other","r":{}}\n`)).toThrow(/does not list/);
    expect(rowText('{"t":"a\\"b","r":{"x": 1}}')).toEqual({ table: 'a"b', row: '{"x": 1}' });
  });
});

describe('backup sealing', () => {
  it('opens for its tenant and backup only; any changed byte is refused', async () => {
    const k = await key();
    const stored = await sealBackup(k, T, B, 'hello backup\n');
    expect(new TextDecoder().decode(stored)).not.toContain('hello');
    expect(await openBackup(k, T, B, stored)).toBe('hello backup\n');
    expect(await sha256Hex(stored)).toMatch(/^[0-9a-f]{64}$/);
    await expect(openBackup(k, T, crypto.randomUUID(), stored)).rejects.toBeInstanceOf(CorruptBackupError);
    await expect(openBackup(k, crypto.randomUUID(), B, stored)).rejects.toBeInstanceOf(CorruptBackupError);
    await expect(openBackup(await key(), T, B, stored)).rejects.toBeInstanceOf(CorruptBackupError);
    for (const at of [0, 5, stored.length - 1]) {
      const bad = new Uint8Array(stored);
      bad[at] = bad[at]! ^ 0x01;
      await expect(openBackup(k, T, B, bad)).rejects.toBeInstanceOf(CorruptBackupError);
    }
  });
});
