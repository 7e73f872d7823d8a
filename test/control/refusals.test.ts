/**
 * The audit log under floods and forgery: refused admin calls are summarised (bounded, no paths),
 * authenticated calls keep one entry each with the path truncated, the edge's refusals are
 * deduplicated per tenant and code, and the router's role can append nothing but edge entries.
 */
import { describe, expect, it } from 'vitest';
import { controlAuditSink } from '../../src/policy/security-audit.js';
import { sqlAt, stack } from '../support/helpers.js';
import { admin } from '../support/control.js';
import { call, controlEnv } from './in-process.js';

const control = () => sqlAt(stack.control.postgresUrl);
const head = async () => Number(((await control().query('SELECT coalesce(max(seq), 0) AS s FROM audit_log')) as { s: string }[])[0]!.s);

describe('refused admin calls', () => {
  it('300 anonymous calls with 3 KB paths add at most two summary entries, and an admin write during the flood completes normally', async () => {
    const from = await head();
    const junk = 'x'.repeat(3000);
    const anonymous = (i: number) => fetch(`${stack.control.url}/admin/v1/tenants/${junk}${i}`, { headers: { 'cf-connecting-ip': `198.51.100.${i % 250}` } });
    let write: { status: number; ms: number } | undefined;
    for (let batch = 0; batch < 15; batch++) {
      const flood = Array.from({ length: 20 }, (_, i) => anonymous(batch * 20 + i));
      if (batch === 7) {
        const t0 = Date.now();
        const res = await admin('/admin/v1/tiers', { method: 'POST', json: { name: `FLOOD_${Date.now()}`, from: 'FREE' } });
        write = { status: res.status, ms: Date.now() - t0 };
      }
      for (const res of await Promise.all(flood)) expect(res.status).toBe(401);
    }
    expect(write!.status).toBe(201);
    expect(write!.ms).toBeLessThan(5000);
    const rows = await control().query("SELECT entry FROM audit_log WHERE seq > $1 AND actor = 'anonymous'", [from]) as { entry: string }[];
    expect(rows.length).toBeLessThanOrEqual(2);
    for (const r of rows) {
      expect(r.entry.length).toBeLessThan(1000);
      expect(r.entry).not.toContain('xxxxxxxxxx');
    }
    // The write itself has its own entry.
    expect(await control().query("SELECT 1 FROM audit_log WHERE seq > $1 AND action = 'tier.create' AND actor = 'admin-token'", [from])).not.toHaveLength(0);
  });

  it('a window of refusals becomes one entry: counts by reason, sample client addresses, no path', async () => {
    const env = controlEnv({ REFUSAL_AUDIT_WINDOW_SECONDS: '1' });
    const ip = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
    const other = `2001:db8::${Math.floor(Math.random() * 65535).toString(16)}`;
    const find = async () => await control().query("SELECT entry FROM audit_log WHERE action = 'admin.refused' AND entry LIKE $1 ORDER BY seq", [`%${other}%`]) as { entry: string }[];
    // The isolate's first refusal is written at once.
    expect((await call(env, '/admin/v1/tenants', { token: null, headers: { 'cf-connecting-ip': ip } })).status).toBe(401);
    // These wait for the window.
    expect((await call(env, `/admin/v1/tenants/${'y'.repeat(3000)}`, { token: null, headers: { 'cf-connecting-ip': other } })).status).toBe(401);
    expect((await call(env, '/admin/v1/tiers', { token: null, headers: { 'cf-connecting-ip': other } })).status).toBe(401);
    expect((await call(env, '/admin/v1/tiers', { token: 'not-the-token', headers: { 'cf-connecting-ip': ip } })).status).toBe(401);
    expect(await find()).toEqual([]);
    await new Promise((r) => setTimeout(r, 1100));
    // Any call after the window (here an authenticated one) writes what was held.
    expect((await call(env, '/admin/v1/tiers')).status).toBe(200);
    const [held] = await find();
    const e = JSON.parse(held!.entry) as { actor: string; detail: Record<string, unknown> };
    expect(e.actor).toBe('anonymous');
    expect(e.detail).toMatchObject({ total: 3, byReason: { UNAUTHENTICATED: 2, INVALID_TOKEN: 1 } });
    expect(new Set(e.detail.sampleClients as string[])).toEqual(new Set([other, ip]));
    expect(held!.entry).not.toContain('yyyy');
    expect(e.detail).not.toHaveProperty('path');
  });

  it('authenticated calls keep one entry each, with the path truncated', async () => {
    const rid = `long-${crypto.randomUUID()}`;
    const res = await admin(`/admin/v1/tenants/${'z'.repeat(3000)}/usage`, { headers: { 'x-request-id': rid } });
    expect(res.status).toBe(400);
    const rows = await control().query('SELECT actor, entry FROM audit_log WHERE request_id = $1', [rid]) as { actor: string; entry: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.actor).toBe('admin-token');
    expect(((JSON.parse(rows[0]!.entry) as { detail: { path: string } }).detail.path).length).toBeLessThanOrEqual(200);
  });
});

describe('edge audit entries', () => {
  const asRouter = () => sqlAt(stack.control.routerUrl);

  it("the router's role cannot call audit_append (no forged admin entries), and audit_append_edge refuses other actions", async () => {
    await expect(asRouter().query(
      "SELECT audit_append('admin-token', 'tenant.delete', NULL, 'forged', '{}'::jsonb)")).rejects.toMatchObject({ code: '42501' });
    await expect(asRouter().query(
      "SELECT audit_append_edge('TENANT_DELETE', NULL, 'forged', '10.0.0.1', '{}'::jsonb)")).rejects.toMatchObject({ code: '42501' });
    await expect(asRouter().query(
      "SELECT audit_append_edge('TENANT_MISMATCH', NULL, 'big', '10.0.0.1', $1::jsonb)", [JSON.stringify({ pad: 'p'.repeat(2000) })])).rejects.toMatchObject({ code: '22023' });
    expect(await control().query("SELECT 1 FROM audit_log WHERE request_id IN ('forged', 'big')")).toEqual([]);
    // What it may write is an edge entry, its actor fixed to `edge:` and a client address (or `unknown`).
    const rid = `edge-${crypto.randomUUID()}`;
    await asRouter().query("SELECT audit_append_edge('RESIDENCY_VIOLATION', NULL, $1, 'admin-token', '{\"host\":\"h\"}'::jsonb)", [rid]);
    const [row] = await control().query('SELECT actor, action, entry FROM audit_log WHERE request_id = $1', [rid]) as { actor: string; action: string; entry: string }[];
    expect(row).toMatchObject({ actor: 'edge:unknown', action: 'edge.residency_violation' });
    expect(JSON.parse(row!.entry).detail).toEqual({ host: 'h', code: 'RESIDENCY_VIOLATION' });
    expect((await (await admin('/admin/v1/audit/verify')).json() as { ok: boolean }).ok).toBe(true);
  });

  it('the edge sink writes one entry per tenant and code per window, with the count of what it stood for', async () => {
    const sink = controlAuditSink(stack.control.routerUrl, 400);
    const tenantId = crypto.randomUUID();
    const event = (i: number) => ({ code: 'TENANT_MISMATCH', tenantId, requestId: `sink-${tenantId}-${i}`, clientIp: `192.0.2.${i}`, host: 'x.localhost' });
    await sink.record(event(1));
    for (let i = 2; i <= 5; i++) expect(sink.record(event(i))).toBeNull();
    expect(sink.record({ ...event(6), code: 'IP_NOT_ALLOWED' })).toBeNull();
    await new Promise((r) => setTimeout(r, 450));
    await sink.record(event(7));
    const rows = await control().query('SELECT actor, action, entry FROM audit_log WHERE tenant_id = $1 ORDER BY seq', [tenantId]) as { actor: string; action: string; entry: string }[];
    expect(rows.map((r) => [r.actor, r.action, JSON.parse(r.entry).detail.count])).toEqual([
      ['edge:192.0.2.1', 'edge.tenant_mismatch', 1],
      ['edge:192.0.2.7', 'edge.tenant_mismatch', 5],
    ]);
  });
});
