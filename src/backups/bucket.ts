/**
 * The backups' R2 bucket (the control worker's BACKUPS binding), every call bounded in time.
 * Objects: `backups/<tenant id>/<backup id>`, custom metadata without secrets (ids, format, snapshot
 * time, SHA-256 of the stored bytes, the data key's id).
 */
import { AppError } from '../errors.js';
import { tenantPrefix } from './store.js';

/** Longest one bucket call may take. */
export const BUCKET_TIMEOUT_MS = 30_000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${BUCKET_TIMEOUT_MS} ms`)), BUCKET_TIMEOUT_MS); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The bucket, or 503 BACKUPS_UNAVAILABLE when this control plane has none bound. */
export function requireBucket(b: R2Bucket | null | undefined): R2Bucket {
  if (!b) throw new AppError(503, 'BACKUPS_UNAVAILABLE', 'this control plane has no backup bucket (BACKUPS binding)');
  return b;
}

export async function putObject(b: R2Bucket, key: string, bytes: Uint8Array<ArrayBuffer>, meta: Record<string, string>): Promise<void> {
  await within(b.put(key, bytes, { httpMetadata: { contentType: 'application/octet-stream' }, customMetadata: meta }), 'storing the backup');
}

/** The object's bytes, or null when there is none. */
export async function getObject(b: R2Bucket, key: string): Promise<Uint8Array<ArrayBuffer> | null> {
  return within((async () => {
    const o = await b.get(key);
    return o ? new Uint8Array(await o.arrayBuffer()) : null;
  })(), 'reading the backup');
}

/** Every object key of the tenant's backups. */
export async function listTenantObjects(b: R2Bucket, tenantId: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await within(b.list({ prefix: tenantPrefix(tenantId), cursor, limit: 1000 }), 'listing backups');
    keys.push(...r.objects.map((o) => o.key));
    if (!r.truncated) break;
    cursor = r.cursor;
  }
  return keys;
}

export async function deleteObjects(b: R2Bucket, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) await within(b.delete(keys.slice(i, i + 1000)), 'deleting backups');
}
