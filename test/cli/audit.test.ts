/**
 * tenantctl audit: an intact chain verifies (exit 0); an entry edited in Postgres is named
 * (exit 1). The edit is undone in `finally`, so the files after this one see an intact log.
 */
import { describe, expect, inject, it } from 'vitest';
import { query, tenantctl } from './support.js';

const stack = inject('stack');
const INTACT = /^audit log intact: (\d+) entries, head (\d+):([0-9a-f]{64})$/m;

describe('tenantctl audit', () => {
  it('lists entries, filtered by tenant and action prefix', async () => {
    expect((await tenantctl('tenant', 'show', 'acme')).code).toBe(0);
    const r = await tenantctl('audit', 'list', '--tenant', 'acme', '--action', 'tenant', '--limit', '5');
    expect(r.code, r.stderr).toBe(0);
    const [header, first] = r.stdout.trim().split('\n');
    expect(header).toMatch(/^SEQ +AT +ACTOR +ACTION +TENANT +DETAIL$/);
    expect(first).toMatch(new RegExp(`^\\d+ +\\S+ +admin-token +tenant\\.get +${stack.tenants.acme!.id} `));
  });

  it('filters by actor and time range', async () => {
    const since = new Date(Date.now() - 2000).toISOString();
    expect((await tenantctl('tenant', 'show', 'globex')).code).toBe(0);
    const r = await tenantctl('audit', 'list', '--actor', 'admin-token', '--since', since, '--action', 'tenant.get', '--json');
    expect(r.code, r.stderr).toBe(0);
    const entries = JSON.parse(r.stdout).entries as { actor: string; at: string; tenantId: string | null }[];
    expect(entries.map((e) => e.tenantId)).toContain(stack.tenants.globex!.id);
    for (const e of entries) {
      expect(e.actor).toBe('admin-token');
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(Date.parse(since));
    }
    const before = JSON.parse((await tenantctl('audit', 'list', '--until', since, '--limit', '50', '--json')).stdout).entries as { at: string }[];
    expect(before.length).toBeGreaterThan(0);
    for (const e of before) expect(Date.parse(e.at)).toBeLessThan(Date.parse(since));
    const nobody = JSON.parse((await tenantctl('audit', 'list', '--actor', 'jwt:nobody', '--json')).stdout);
    expect(nobody.entries).toEqual([]);
  });

  it('verifies the intact chain, names the entry edited behind its back, and verifies again once restored', async () => {
    const ok = await tenantctl('audit', 'verify');
    expect(ok.code, ok.stderr).toBe(0);
    const [, checked, head] = INTACT.exec(ok.stdout)!;
    expect(Number(checked)).toBeGreaterThan(0);
    expect(Number(head)).toBe(Number(checked));

    const db = stack.control.postgresUrl;
    const [victim] = await query<{ seq: string; actor: string }>(db, 'SELECT seq, actor FROM audit_log WHERE seq = (SELECT max(seq) - 1 FROM audit_log)');
    await query(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", [victim!.seq]);
    try {
      const broken = await tenantctl('audit', 'verify');
      expect(broken.code).toBe(1);
      expect(broken.stdout).toMatch(new RegExp(`^audit log broken at seq ${victim!.seq}: columns differ from the hashed entry`, 'm'));
      const json = JSON.parse((await tenantctl('audit', 'verify', '--json')).stdout);
      expect(json).toMatchObject({ ok: false, brokenAt: Number(victim!.seq) });
    } finally {
      await query(db, 'UPDATE audit_log SET actor = $2 WHERE seq = $1', [victim!.seq, victim!.actor]);
    }
    const restored = await tenantctl('audit', 'verify');
    expect(restored.code, restored.stdout).toBe(0);
    expect(restored.stdout).toMatch(INTACT);
  });
});
