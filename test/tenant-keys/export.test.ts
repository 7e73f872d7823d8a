/**
 * Export end to end in workerd against the stack's real databases and TenantGuard objects,
 * through an in-process control plane with the TenantGuard binding: the archive holds the
 * tenant's settings, usage, audit entries, guard state and its rows (row isolation on the shared
 * schema, and a schema tenant's own schema), nothing of another tenant, and ends in a manifest
 * whose counts and SHA-256 match the parts and whose signature verifies through the API.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from 'edge-tenant-router';
import { checkArchive, type ExportManifest } from '../../src/tenant-data/export.js';
import { call as controlCall, controlEnv } from '../control/in-process.js';
import { tokenFor } from '../support/control.js';
import { errorOf, sqlAt, stack, unique } from '../support/helpers.js';
import { vaultRouter } from './vault-app.js';

const REGION = 'aws-us-east-2';
const app = vaultRouter();
const control = sqlAt(stack.control.postgresUrl);
const testEnv = env as unknown as Env;
const CONTROL = controlEnv({ TENANT_GUARD: testEnv.TENANT_GUARD, DO_JURISDICTIONS: 'false' });

type T = { id: string; slug: string };
type Line = { part: string; item: Record<string, unknown> };
async function send(t: T, path: string, body?: unknown): Promise<Response> {
  const host = `${t.slug}.localhost`;
  const headers = new Headers({ host, authorization: `Bearer ${await tokenFor(t.id)}` });
  if (body !== undefined) headers.set('content-type', 'application/json');
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}/api/v1/vault${path}`, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) }), testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
async function create(extra: Record<string, unknown> = {}): Promise<T> {
  const res = await controlCall(CONTROL, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('ex-'), tier: 'STANDARD', region: REGION, ...extra } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json() as Promise<T>;
}
async function exportOf(t: T): Promise<{ text: string; lines: Line[]; manifest: ExportManifest }> {
  const res = await controlCall(CONTROL, `/admin/v1/tenants/${t.id}/export`, { method: 'POST' });
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
  const text = await res.text();
  const all = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Line & { manifest?: ExportManifest });
  const manifest = all.pop()!.manifest!;
  return { text, lines: all, manifest };
}

let a: T;
let b: T;
let c: T;
const titles: Record<string, string> = {};

beforeAll(async () => {
  [a, b, c] = [await create(), await create(), await create({ isolation: 'schema' })];
  for (const t of [a, b, c]) {
    titles[t.id] = unique('title-');
    const res = await send(t, '/tracks', { title: titles[t.id], artist: 'Band' });
    expect(res.status, await res.clone().text()).toBe(201);
  }
  await control.query("INSERT INTO usage_flushes (tenant_id, month, source, requests, flush_seq) VALUES ($1, '2026-10', 'export-test', 7, 1)", [a.id]);
}, 120_000);

afterAll(async () => {
  for (const t of [a, b, c]) await controlCall(CONTROL, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
}, 120_000);

describe('POST /admin/v1/tenants/{id}/export', () => {
  it("holds the tenant's settings, usage, audit entries, guard state and rows, and nothing of another tenant", async () => {
    const { text, lines, manifest } = await exportOf(a);
    const part = (name: string) => lines.filter((l) => l.part === name).map((l) => l.item);
    expect(part('tenant')).toEqual([expect.objectContaining({ id: a.id, slug: a.slug, tier: 'STANDARD', region: REGION, isolation: 'row' })]);
    expect(part('usage')).toEqual(expect.arrayContaining([expect.objectContaining({ month: '2026-10', source: 'export-test', requests: 7 })]));
    expect(part('audit').map((e) => e.action)).toContain('tenant.create');
    expect(part('guard')).toHaveLength(1);
    const rows = part('rows.tracks');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tenant_id: a.id, title: titles[a.id] });
    // The artist stays sealed as stored (tk1.…): the data key is not part of an export.
    expect(String(rows[0]!.artist)).toMatch(/^tk1\./);
    for (const other of [b, c]) {
      expect(text).not.toContain(other.id);
      expect(text).not.toContain(titles[other.id]!);
    }
    expect(manifest).toMatchObject({ type: 'tenant-export', format: 'jsonl-v1', tenantId: a.id, slug: a.slug });
    expect(manifest.parts.map((p) => p.name)).toEqual(['tenant', 'domains', 'usage', 'storage', 'audit', 'guard', 'backups', ...manifest.parts.filter((p) => p.name.startsWith('rows.')).map((p) => p.name)]);
    expect(manifest.parts.find((p) => p.name === 'rows.tracks')).toMatchObject({ count: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('reads a schema tenant from its own schema', async () => {
    const { lines } = await exportOf(c);
    const rows = lines.filter((l) => l.part === 'rows.tracks').map((l) => l.item);
    expect(rows).toEqual([expect.objectContaining({ tenant_id: c.id, title: titles[c.id] })]);
    expect(lines.find((l) => l.part === 'tenant')!.item).toMatchObject({ isolation: 'schema' });
  });

  it('ends in a manifest that matches every part and whose signature verifies; an altered archive or manifest does not', async () => {
    const { text, manifest } = await exportOf(a);
    expect(await checkArchive(text)).toMatchObject({ ok: true, mismatched: [] });
    const ok = await controlCall(CONTROL, '/admin/v1/exports/verify', { method: 'POST', json: manifest });
    expect(await ok.json()).toMatchObject({ valid: true, kid: expect.stringMatching(/^master:/) });
    // A row changed after the export: its part's checksum no longer matches.
    const altered = text.replace(titles[a.id]!, 'Changed');
    expect(await checkArchive(altered)).toMatchObject({ ok: false, mismatched: ['rows.tracks'] });
    // A manifest edited to match: its signature no longer holds.
    const forged = { ...manifest, parts: manifest.parts.map((p) => (p.name === 'rows.tracks' ? { ...p, count: 2 } : p)) };
    expect(await (await controlCall(CONTROL, '/admin/v1/exports/verify', { method: 'POST', json: forged })).json()).toMatchObject({ valid: false });
    const bad = await controlCall(CONTROL, '/admin/v1/exports/verify', { method: 'POST', json: { nothing: true } });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).code).toBe('BAD_REQUEST');
  });

  it('is 404 TENANT_NOT_FOUND for an unknown tenant, and recorded in the audit log', async () => {
    const res = await controlCall(CONTROL, `/admin/v1/tenants/${crypto.randomUUID()}/export`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('TENANT_NOT_FOUND');
    const [n] = await control.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'tenant.export' AND tenant_id = $1", [a.id]) as { n: number }[];
    expect(n!.n).toBeGreaterThanOrEqual(2);
  });
});
