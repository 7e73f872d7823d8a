/**
 * `c.var.crypto`: field encryption with the tenant's own data key, for applications behind the
 * router. `seal(field, plaintext)` gives a text value to store; `open(field, sealed)` gives the
 * plaintext back, for the same tenant and field only.
 *
 * The data key comes with the tenant record (wrapped under MASTER_KEY, which the router already
 * holds to open dedicated-database secrets) and is unwrapped here, once per record per isolate
 * (key-cache.ts). A record without one (a tenant made before migration 0013) gets one on first
 * use through the control database (key-store.ts). Nothing happens until the first call.
 */
import { UnknownKeyError, type MasterKeys } from '../crypto/secret-box.js';
import { AppError } from '../errors.js';
import { newWrappedKey, unwrapKey } from './data-key.js';
import { fieldRefusal, isSealedField, MAX_PLAINTEXT_BYTES, openField, sealField } from './field-seal.js';
import { TenantKeyCache, type KeyRecord } from './key-cache.js';
import type { TenantKeyStore } from './key-store.js';

/** What an application sees as `c.var.crypto`. */
export interface TenantCrypto {
  /** Encrypts `plaintext` with the tenant's key, bound to the tenant and `field` (a column or attribute name). */
  seal(field: string, plaintext: string): Promise<string>;
  /** Decrypts a value `seal` made for this tenant and `field`; any other value is `422 SEALED_VALUE_INVALID`. */
  open(field: string, sealed: string): Promise<string>;
}

export interface TenantKeysOptions {
  masterKey: Promise<MasterKeys>;
  store: TenantKeyStore;
  cache?: TenantKeyCache;
}

const invalid = () => new AppError(422, 'SEALED_VALUE_INVALID', 'the value does not open for this tenant and field');

/** Hands out each tenant's `TenantCrypto`; one per isolate. */
export class TenantKeys {
  private readonly cache: TenantKeyCache;
  constructor(private readonly opts: TenantKeysOptions) { this.cache = opts.cache ?? new TenantKeyCache(); }

  /** The tenant's field encryption; no I/O until its first call. */
  for(tenant: KeyRecord): TenantCrypto {
    const key = () => this.cache.get(tenant, () => this.load(tenant));
    return {
      seal: async (field, plaintext) => {
        checkField(field);
        if (typeof plaintext !== 'string') throw new TypeError('crypto.seal: plaintext must be a string');
        if (new TextEncoder().encode(plaintext).byteLength > MAX_PLAINTEXT_BYTES) throw new AppError(413, 'PAYLOAD_TOO_LARGE', `a sealed value holds at most ${MAX_PLAINTEXT_BYTES} bytes`);
        return sealField(await key(), tenant.id, field, plaintext);
      },
      open: async (field, sealed) => {
        checkField(field);
        if (!isSealedField(sealed)) throw invalid();
        const k = await key();
        try { return await openField(k, tenant.id, field, sealed); } catch { throw invalid(); }
      },
    };
  }

  /** Drops a tenant's unwrapped key from this isolate (tests). */
  forget(tenantId: string): void { this.cache.forget(tenantId); }

  private async load(t: KeyRecord): Promise<CryptoKey> {
    const ring = await this.opts.masterKey;
    const wrapped = t.dataKey ?? await this.opts.store.ensure(t.id, await newWrappedKey(ring, t.id));
    if (!wrapped) throw new AppError(404, 'TENANT_NOT_FOUND', 'no such tenant');
    try {
      return await unwrapKey(ring, wrapped, t.id);
    } catch (err) {
      // As for connection secrets (tenant-db.ts): a ring without the key is a deploy-order problem a retry may find mended.
      if (err instanceof UnknownKeyError) {
        console.error(JSON.stringify({ level: 'error', msg: 'tenant data key wrapped under a key not in MASTER_KEY', tenant: t.id, kid: err.kid }));
        throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'the tenant key is not available on this router', { 'Retry-After': '30' });
      }
      console.error(JSON.stringify({ level: 'error', msg: 'tenant data key does not unwrap for its tenant', tenant: t.id }));
      throw new AppError(500, 'INTERNAL', 'internal error');
    }
  }
}

function checkField(field: string): void {
  const why = fieldRefusal(field);
  if (why) throw new TypeError(`crypto: ${why}`);
}
