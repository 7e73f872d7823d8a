/**
 * A backup's stored form (pure apart from WebCrypto and the compression streams): the plaintext
 * gzip'd, then encrypted with the tenant's data key, AES-256-GCM with a fresh 96-bit IV, the
 * additional data binding the tenant id and the backup id (an object copied under another tenant
 * or backup id does not open). Layout: `TBK1` (4 bytes), IV (12), ciphertext and tag.
 * Destroying the data key (erase, deletion) makes every copy unreadable: crypto-shredding.
 */
const enc = new TextEncoder();
const MAGIC = new Uint8Array(enc.encode('TBK1'));

/** The additional data of a backup: tenant and backup, unambiguous. */
export const backupAad = (tenantId: string, backupId: string): Uint8Array<ArrayBuffer> => new Uint8Array(enc.encode(`tbk1\n${tenantId}\n${backupId}`));

/** Raised for an object that is not a backup of this tenant and id, or was changed. */
export class CorruptBackupError extends Error {}

async function pipe(bytes: Uint8Array<ArrayBuffer>, t: CompressionStream | DecompressionStream): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(t));
  return new Uint8Array(await out.arrayBuffer());
}

/** The stored bytes of `plaintext`. */
export async function sealBackup(key: CryptoKey, tenantId: string, backupId: string, plaintext: string): Promise<Uint8Array<ArrayBuffer>> {
  const gz = await pipe(new Uint8Array(enc.encode(plaintext)), new CompressionStream('gzip'));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: backupAad(tenantId, backupId) }, key, gz));
  const out = new Uint8Array(MAGIC.length + iv.length + ct.length);
  out.set(MAGIC);
  out.set(iv, MAGIC.length);
  out.set(ct, MAGIC.length + iv.length);
  return out;
}

/** The plaintext of stored bytes; CorruptBackupError when they are not this backup's, intact. */
export async function openBackup(key: CryptoKey, tenantId: string, backupId: string, stored: Uint8Array<ArrayBuffer>): Promise<string> {
  if (stored.length < MAGIC.length + 12 + 16 || MAGIC.some((b, i) => stored[i] !== b)) throw new CorruptBackupError('not a sealed backup');
  let gz: Uint8Array<ArrayBuffer>;
  try {
    gz = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: stored.slice(4, 16), additionalData: backupAad(tenantId, backupId) }, key, stored.slice(16)));
  } catch {
    throw new CorruptBackupError('the backup does not open with this tenant\'s key (changed, or not this backup)');
  }
  return new TextDecoder().decode(await pipe(gz, new DecompressionStream('gzip')));
}

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A name for the data key that says nothing of it: 16 hex of SHA-256 over a label and the raw key. */
export async function keyIdOf(raw: Uint8Array<ArrayBuffer>): Promise<string> {
  const label = enc.encode('tenant-backup-key-id\n');
  const all = new Uint8Array(label.length + raw.length);
  all.set(label);
  all.set(raw, label.length);
  return (await sha256Hex(all)).slice(0, 16);
}
