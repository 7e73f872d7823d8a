/**
 * tenantctl tenant export / export verify / tenant erase against the CLI stack's control plane:
 * the archive is written as the API sent it and checked against its manifest and signature; an
 * altered file fails verification (exit 1); erase needs the slug repeated, then prints the
 * receipt and leaves no row of the tenant in the control database and no data key.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { admin, query, tenantctl } from './support.js';

const stack = inject('stack');
const dir = mkdtempSync(join(tmpdir(), 'tenantctl-export-'));

describe('tenantctl tenant export, export verify, tenant erase', () => {
  it('exports a verified archive, refuses an altered one, and erases the tenant with a receipt', async () => {
    const created = await admin(stack, 'POST', '/tenants', { slug: 'cli-export', tier: 'STANDARD', region: 'aws-us-east-2' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const file = join(dir, 'export.jsonl');
    const r = await tenantctl('tenant', 'export', 'cli-export', '--out', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/manifest and signature verified/);
    expect(r.stdout).toMatch(/^tenant +1 +[0-9a-f]{64}$/m);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(id);
    expect((await tenantctl('export', 'verify', file)).code).toBe(0);
    writeFileSync(file, text.replace('"cli-export"', '"cli-exporx"'));
    const bad = await tenantctl('export', 'verify', file);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/do not match: tenant/);

    const refused = await tenantctl('tenant', 'erase', 'cli-export');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--confirm/);
    const erased = await tenantctl('tenant', 'erase', 'cli-export', '--confirm', 'cli-export');
    expect(erased.code, erased.stderr + erased.stdout).toBe(0);
    expect(erased.stdout).toMatch(/nothing left in any store; key destroyed: yes/);
    expect(await query(stack.control.postgresUrl, 'SELECT count(*)::int AS n FROM tenant_keys WHERE tenant_id = $1', [id])).toEqual([{ n: 0 }]);
    expect(await query(stack.control.postgresUrl, 'SELECT count(*)::int AS n FROM tenants WHERE id = $1', [id])).toEqual([{ n: 0 }]);
    const json = JSON.parse((await tenantctl('audit', 'list', '--tenant', id, '--json')).stdout) as { entries: { action: string }[] };
    expect(json.entries.map((e) => e.action)).toContain('tenant.erased');
  });
});
