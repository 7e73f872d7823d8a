/** The audit log: every call recorded with who/what/when/request id, edge refusals, filters, tamper detection. */
import { describe, expect, it } from 'vitest';
import { call, platformToken, sqlAt, stack } from '../support/helpers.js';
import { admin, createViaApi, tokenFor } from '../support/control.js';

interface Entry { seq: number; at: string; actor: string; action: string; tenantId: string | null; requestId: string | null; detail: Record<string, unknown> }
const entries = async (q: string) => (await (await admin(`/admin/v1/audit?${q}`)).json() as { entries: Entry[] }).entries;
const control = () => sqlAt(stack.control.postgresUrl);

describe('audit entries', () => {
  it('records each admin call with actor, action, tenant, request id and status, refusals included', async () => {
    const t = await createViaApi();
    const res = await admin(`/admin/v1/tenants/${t.id}/suspend`, { method: 'POST', headers: { 'x-request-id': `audit-${t.id}` } });
    expect(res.status).toBe(200);
    const [e] = await entries(`tenant=${t.slug}&action=tenant.suspend`);
    expect(e).toMatchObject({ actor: 'admin-token', action: 'tenant.suspend', tenantId: t.id, requestId: `audit-${t.id}`, detail: { status: 200, method: 'POST' } });
    expect(Date.now() - Date.parse(e!.at)).toBeLessThan(60_000);
    const all = await entries(`tenant=${t.id}&limit=10`);
    expect(all.map((x) => x.action)).toEqual(['tenant.suspend', 'tenant.create']);

    // A refused credential gets no entry of its own: it is counted into the isolate's summary
    // (written at once when it is the first refusal of a window), never with its path.
    const denied = await admin(`/admin/v1/tenants/${t.slug}`, { token: 'not-the-secret', headers: { 'x-request-id': `denied-${t.id}` } });
    expect(denied.status).toBe(401);
    for (const e of (await entries('action=admin.refused&actor=anonymous&limit=50')).filter((x) => x.requestId === `denied-${t.id}`)) {
      expect(e.detail).toMatchObject({ byReason: { INVALID_TOKEN: expect.any(Number) } });
      expect(JSON.stringify(e.detail)).not.toContain(t.slug);
    }
  });

  it('records edge refusals: a token of one tenant on another, a tenant outside its residency', async () => {
    // Fresh tenants: the edge writes the first refusal per tenant and code of a minute at once.
    const victim = await createViaApi();
    const mismatch = await call(`${victim.slug}.localhost`, '/api/v1/me', { token: await platformToken('acme'), headers: { 'x-request-id': `mismatch-${Date.now()}` } });
    expect(mismatch.status).toBe(403);
    const rid = mismatch.headers.get('x-request-id');
    const found = async (action: string, id: string | null) => {
      for (let i = 0; i < 20; i++) {
        const hit = (await entries(`action=${action}&limit=50`)).find((x) => x.requestId === id);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 100));
      }
      return undefined;
    };
    expect(await found('edge.tenant_mismatch', rid)).toMatchObject({ tenantId: victim.id, actor: 'edge:unknown', detail: { code: 'TENANT_MISMATCH', host: `${victim.slug}.localhost`, count: 1 } });
    // A tenant whose residency its region breaks (as an operator's direct edit could leave it).
    const misplaced = await createViaApi();
    await control().query("UPDATE tenants SET residency = 'EU' WHERE id = $1", [misplaced.id]);
    const ip = `198.51.100.${Date.now() % 250}`;
    const residency = await call(`${misplaced.slug}.localhost`, '/api/v1/me', { token: await tokenFor(misplaced.id), headers: { 'cf-connecting-ip': ip } });
    expect(residency.status).toBe(451);
    expect(await found('edge.residency_violation', residency.headers.get('x-request-id'))).toMatchObject({ tenantId: misplaced.id, actor: `edge:${ip}` });
  });
});

describe('verification', () => {
  it('passes on the intact chain and names the first edited or deleted entry', async () => {
    await createViaApi();
    const ok = await (await admin('/admin/v1/audit/verify')).json() as { ok: boolean; checked: number; head: { seq: number } };
    expect(ok.ok).toBe(true);
    expect(ok.checked).toBeGreaterThan(2);
    const [victim] = await control().query('SELECT *, at::text AS at_text FROM audit_log WHERE seq = (SELECT max(seq) - 2 FROM audit_log)') as Record<string, unknown>[];
    const seq = Number(victim!.seq);
    try {
      // An edited column: the entry text no longer agrees.
      await control().query("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", [seq]);
      expect(await (await admin('/admin/v1/audit/verify')).json()).toMatchObject({ ok: false, brokenAt: seq, reason: 'columns differ from the hashed entry' });
      await control().query('UPDATE audit_log SET actor = $2 WHERE seq = $1', [seq, victim!.actor]);
      // An edited entry whose hash was recomputed: the next entry's link breaks.
      const forged = String(victim!.entry).replace('"detail": {', '"detail": {"forged": true, ');
      await control().query("UPDATE audit_log SET entry = $2, hash = encode(sha256(convert_to(prev_hash || $2, 'UTF8')), 'hex') WHERE seq = $1", [seq, forged]);
      const r = await (await admin('/admin/v1/audit/verify')).json() as { ok: boolean; brokenAt: number };
      expect(r.ok).toBe(false);
      expect([seq, seq + 1]).toContain(r.brokenAt);
      await control().query('UPDATE audit_log SET entry = $2, hash = $3 WHERE seq = $1', [seq, victim!.entry, victim!.hash]);
      // A deleted entry.
      await control().query('DELETE FROM audit_log WHERE seq = $1', [seq]);
      expect(await (await admin('/admin/v1/audit/verify')).json()).toMatchObject({ ok: false, brokenAt: seq, reason: `entry ${seq} is missing` });
    } finally {
      await control().query('DELETE FROM audit_log WHERE seq = $1', [seq]);
      await control().query('INSERT INTO audit_log (seq, at, actor, action, tenant_id, request_id, entry, prev_hash, hash) VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9)',
        [seq, victim!.at_text, victim!.actor, victim!.action, victim!.tenant_id, victim!.request_id, victim!.entry, victim!.prev_hash, victim!.hash]);
    }
    expect((await (await admin('/admin/v1/audit/verify')).json() as { ok: boolean }).ok).toBe(true);
  });
});
