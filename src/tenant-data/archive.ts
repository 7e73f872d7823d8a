/**
 * The export archive's format (export.ts), pure: JSON lines `{"part","item"}`, then one
 * `{"manifest":{...}}` line listing every part with its count and the SHA-256 of its lines.
 * tenantctl checks a downloaded archive with this; the manifest's signature is checked by the
 * control plane (POST /admin/v1/exports/verify), which holds the key.
 */
import { sha256Hex, type Signature } from './signing.js';

export interface ExportManifest {
  type: 'tenant-export';
  format: 'jsonl-v1';
  tenantId: string;
  slug: string;
  exportedAt: string;
  parts: { name: string; count: number; sha256: string }[];
  signature: Signature;
}

/** Checks an archive against its manifest: every part's count and SHA-256 (the signature is checked apart). */
export async function checkArchive(text: string): Promise<{ ok: boolean; manifest: ExportManifest | null; mismatched: string[] }> {
  const lines = text.split('\n').filter((l) => l !== '');
  const last = lines.pop();
  let manifest: ExportManifest | null = null;
  try { manifest = (JSON.parse(last ?? '') as { manifest?: ExportManifest }).manifest ?? null; } catch { /* not an archive */ }
  if (!manifest) return { ok: false, manifest: null, mismatched: ['manifest'] };
  const chunks = new Map<string, { n: number; text: string }>();
  for (const line of lines) {
    let part: string;
    try { part = String((JSON.parse(line) as { part?: unknown }).part); } catch { return { ok: false, manifest, mismatched: ['malformed line'] }; }
    const c = chunks.get(part) ?? { n: 0, text: '' };
    c.n++;
    c.text += `${line}\n`;
    chunks.set(part, c);
  }
  const mismatched: string[] = [];
  for (const p of manifest.parts) {
    const c = chunks.get(p.name) ?? { n: 0, text: '' };
    if (c.n !== p.count || (await sha256Hex(c.text)) !== p.sha256) mismatched.push(p.name);
    chunks.delete(p.name);
  }
  mismatched.push(...chunks.keys());
  return { ok: mismatched.length === 0, manifest, mismatched };
}
