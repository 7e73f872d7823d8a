/**
 * Export (GDPR art. 15 and 20) of everything the platform holds of one tenant, as one JSON-lines
 * archive: one line per item, `{"part":<name>,"item":<value>}`, and a last line holding the
 * signed manifest, `{"manifest":{...}}`, which lists every part with its item count and the
 * SHA-256 of its lines (each line exactly as written, with its newline, in order).
 *
 * Parts: `tenant` (its settings: tier, overrides, region, residency, JWT, geo, proxy, placement
 * without secrets), `domains`, `usage` (monthly flushes per source), `storage` (last measurement),
 * `audit` (the audit entries about it), `guard` (its TenantGuard state, when the control plane has
 * the binding), `backups` (its backups' metadata, src/backups/) and `rows.<table>` (its rows in its storage, tenant-rows.ts). Its data key is not
 * exported: the rows are exported as stored, and sealed columns stay sealed (a tenant who needs
 * them opened exports them through its own application, which can open them).
 */
import { AppError } from '../errors.js';
import { db } from '../control/db.js';
import type { ControlServices } from '../control/services.js';
import { findTenant, loadPlacement } from '../control/tenant-repo.js';
import { guardStub } from '../quota/rate-limiter.js';
import type { GuardAccess } from './erase.js';
import { sha256Hex, signDocument } from './signing.js';
import type { ExportManifest } from './archive.js';

export type { ExportManifest } from './archive.js';
export { checkArchive } from './archive.js';
import { readTenantRows } from './tenant-rows.js';


/** The archive's text and its manifest. */
export async function exportTenant(s: ControlServices, ref: string, guard: GuardAccess): Promise<{ text: string; manifest: ExportManifest }> {
  const t = await findTenant(s.sql, ref);
  if (!t) throw new AppError(404, 'TENANT_NOT_FOUND', 'no such tenant');
  if (t.status === 'provisioning' || t.status === 'deleting') throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}`);
  const id = t.id;
  const [domains, usage, storage, audit, backups] = await db(() => s.sql.transaction([
    s.sql.query(`SELECT hostname, status, status_detail AS "statusDetail", created_at AS "createdAt", activated_at AS "activatedAt"
                   FROM tenant_domains WHERE tenant_id = $1 ORDER BY hostname`, [id]),
    // Counts as JSON numbers (bigint would come as text): exact below 2^53.
    s.sql.query(`SELECT month, source, requests::float8 AS requests, request_bytes::float8 AS "requestBytes", response_bytes::float8 AS "responseBytes", updated_at AS "updatedAt"
                   FROM usage_flushes WHERE tenant_id = $1 ORDER BY month, source`, [id]),
    s.sql.query('SELECT bytes::float8 AS bytes, method, measured_at AS "measuredAt" FROM tenant_storage WHERE tenant_id = $1', [id]),
    s.sql.query(`SELECT seq, at, actor, action, request_id AS "requestId", entry::jsonb -> 'detail' AS detail, hash
                   FROM audit_log WHERE tenant_id = $1 ORDER BY seq`, [id]),
    // Its backups' metadata (src/backups/), not their contents: those are its rows, exported below.
    s.sql.query(`SELECT id, kind, status, taken_at AS "takenAt", row_count AS rows, bytes::float8 AS bytes, sha256, key_id AS "keyId", expires_at AS "expiresAt"
                   FROM tenant_backups WHERE tenant_id = $1 ORDER BY started_at`, [id]),
  ], { readOnly: true, isolationLevel: 'RepeatableRead' })) as Record<string, unknown>[][];
  const placement = await loadPlacement(s.sql, id);
  const rows = placement ? await readTenantRows(id, placement, { regionAdminUrls: s.config.REGION_ADMIN_URLS, masterKeys: s.masterKeys }) : [];
  const guardState = await readGuard(guard, { id, guardJurisdiction: await jurisdictionOf(s, id) });

  // Items as JSON text: the control plane's values serialised here, the tenant's rows as the database wrote them.
  const json = (items: unknown[]) => items.map((x) => JSON.stringify(x));
  const parts: [string, string[]][] = [
    ['tenant', json([t])], ['domains', json(domains!)], ['usage', json(usage!)], ['storage', json(storage!)], ['audit', json(audit!)],
    ['guard', guardState === undefined ? [] : json([guardState])],
    ['backups', json(backups!)],
    ...rows.map((r): [string, string[]] => [`rows.${r.table}`, r.rows]),
  ];
  let text = '';
  const listed: ExportManifest['parts'] = [];
  for (const [name, items] of parts) {
    let chunk = '';
    for (const item of items) chunk += `{"part":${JSON.stringify(name)},"item":${item}}\n`;
    text += chunk;
    listed.push({ name, count: items.length, sha256: await sha256Hex(chunk) });
  }
  const manifest = await signDocument(s.config.MASTER_KEY, {
    type: 'tenant-export' as const, format: 'jsonl-v1' as const, tenantId: id, slug: t.slug, exportedAt: new Date().toISOString(), parts: listed,
  });
  text += `${JSON.stringify({ manifest })}\n`;
  return { text, manifest };
}

/** The TenantGuard's state (null: it stores none), or undefined when it cannot be asked. */
async function readGuard(g: GuardAccess, tenant: { id: string; guardJurisdiction: 'eu' | 'global' }): Promise<unknown> {
  if (!g.ns) return undefined;
  try {
    return await Promise.race([guardStub(g.ns, tenant, g.jurisdictions).inspect(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 5_000))]);
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'export: tenant guard unreachable', tenant: tenant.id, error: String(err).slice(0, 200) }));
    return undefined;
  }
}

async function jurisdictionOf(s: ControlServices, id: string): Promise<'eu' | 'global'> {
  const [r] = await db(() => s.sql.query('SELECT guard_jurisdiction AS g FROM tenants WHERE id = $1', [id])) as { g: 'eu' | 'global' }[];
  return r?.g ?? 'global';
}
