/** Tiers and templates: built-ins, templates from a tier or cloned, YAML export/import round trip. */
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { errorOf, unique } from '../support/helpers.js';
import { admin, createViaApi } from '../support/control.js';

interface Template { name: string; builtin: boolean; basedOn: string | null; isolation: string; limits: Record<string, unknown>; pricing: Record<string, number> }
const name = () => unique('T_').toUpperCase();

describe('tiers', () => {
  it('lists the six built-in tiers of the architecture with their isolation', async () => {
    const { templates } = await (await admin('/admin/v1/tiers')).json() as { templates: Template[] };
    const builtins = templates.filter((t) => t.builtin);
    expect(builtins.map((t) => [t.name, t.isolation])).toEqual([
      ['FREE', 'row'], ['STANDARD', 'row'], ['PREMIUM', 'schema'], ['ENTERPRISE', 'database'], ['ENTERPRISE_PLUS', 'database'], ['WHITE_LABEL', 'database'],
    ]);
    expect(builtins[0]!.limits).toMatchObject({ ratePerMinute: 60, monthlyRequests: 10000, hardCap: true, concurrency: 5, failMode: 'closed' });
  });

  it('creates a template from a tier, clones it, refuses changes to built-ins and deletion while in use', async () => {
    const gold = name();
    const res = await admin('/admin/v1/tiers', { method: 'POST', json: { name: gold, from: 'STANDARD', description: 'Gold', limits: { ratePerMinute: 900 }, pricing: { monthlyCents: 4900 } } });
    expect(res.status).toBe(201);
    const t = await res.json() as Template;
    expect(t).toMatchObject({ name: gold, builtin: false, basedOn: 'STANDARD', isolation: 'row', pricing: { monthlyCents: 4900, overageCentsPer1k: 10 } });
    expect(t.limits).toMatchObject({ ratePerMinute: 900, burst: 100, monthlyRequests: 1000000 });
    const clone = name();
    const cloned = await (await admin('/admin/v1/tiers', { method: 'POST', json: { name: clone, from: gold, limits: { burst: 3 } } })).json() as Template;
    expect(cloned).toMatchObject({ basedOn: gold, limits: { ratePerMinute: 900, burst: 3 } });
    expect((await errorOf(await admin('/admin/v1/tiers', { method: 'POST', json: { name: gold, from: 'FREE' } }))).code).toBe('TEMPLATE_EXISTS');
    expect((await errorOf(await admin('/admin/v1/tiers', { method: 'POST', json: { name: name(), from: 'NOPE' } }))).code).toBe('TEMPLATE_NOT_FOUND');
    expect((await admin('/admin/v1/tiers', { method: 'POST', json: { name: 'lower', from: 'FREE' } })).status).toBe(400);
    expect((await errorOf(await admin('/admin/v1/tiers/FREE', { method: 'PATCH', json: { limits: { burst: 1 } } }))).code).toBe('INVALID_STATE');

    const tenant = await createViaApi({ tier: clone });
    expect(tenant.tier).toBe(clone);
    const inUse = await admin(`/admin/v1/tiers/${clone}`, { method: 'DELETE' });
    expect(inUse.status).toBe(409);
    expect((await errorOf(inUse)).code).toBe('TEMPLATE_IN_USE');
    const patched = await admin(`/admin/v1/tiers/${clone}`, { method: 'PATCH', json: { limits: { concurrency: 9 } } });
    expect((await patched.json() as Template).limits.concurrency).toBe(9);
    const after = await (await admin(`/admin/v1/tenants/${tenant.id}`)).json() as { version: number };
    expect(after.version).toBeGreaterThan(tenant.version);
  });
});

describe('YAML', () => {
  it('export → import changes nothing, and export again gives the same bytes', async () => {
    const first = await (await admin('/admin/v1/tiers/export')).text();
    const doc = parse(first) as { apiVersion: string; kind: string; templates: Template[] };
    expect(doc).toMatchObject({ apiVersion: 'tenant-router/v1', kind: 'TierTemplates' });
    const res = await admin('/admin/v1/tiers/import', { method: 'POST', body: first, headers: { 'content-type': 'application/yaml' } });
    expect(res.status).toBe(200);
    const out = await res.json() as { created: string[]; updated: string[]; unchanged: string[] };
    expect(out.created).toEqual([]);
    expect(out.updated).toEqual([]);
    expect(out.unchanged).toEqual(expect.arrayContaining(['FREE', 'WHITE_LABEL']));
    const names = doc.templates.map((t) => t.name).join(',');
    expect(await (await admin(`/admin/v1/tiers/export?names=${names}`)).text()).toBe(first);
  });

  it('imports new and changed templates exactly as written, and refuses invalid documents', async () => {
    const a = name();
    const b = name();
    const base = parse(await (await admin('/admin/v1/tiers/export?names=FREE')).text()) as { templates: Template[] };
    const free = base.templates[0]!;
    const mine = { ...free, name: a, builtin: false, basedOn: 'FREE', description: 'imported', limits: { ...free.limits, burst: 11 } };
    const child = { ...mine, name: b, basedOn: a, limits: { ...mine.limits, concurrency: 2 } };
    // The child comes first in the file: import orders parents first.
    const text = stringify({ apiVersion: 'tenant-router/v1', kind: 'TierTemplates', templates: [child, mine] }, { lineWidth: 0, aliasDuplicateObjects: false });
    const res = await admin('/admin/v1/tiers/import', { method: 'POST', body: text });
    expect(await res.json()).toEqual({ created: [b, a], updated: [], unchanged: [] });
    const exported = await (await admin(`/admin/v1/tiers/export?names=${b},${a}`)).text();
    const again = parse(exported) as { templates: Template[] };
    expect(again.templates).toEqual(expect.arrayContaining([mine, child]));
    // Re-importing the export is a no-op; a changed value is an update.
    expect(await (await admin('/admin/v1/tiers/import', { method: 'POST', body: exported })).json()).toMatchObject({ updated: [], created: [] });
    const changed = exported.replace('burst: 11', 'burst: 12');
    expect((await (await admin('/admin/v1/tiers/import', { method: 'POST', body: changed })).json() as { updated: string[] }).updated.length).toBeGreaterThan(0);

    const bad: [string, string][] = [
      ['templates: [', 'INVALID_YAML'],
      [stringify({ apiVersion: 'tenant-router/v1', kind: 'TierTemplates', templates: [{ ...mine, limits: { ...mine.limits, burst: -1 } }] }), 'INVALID_YAML'],
      [stringify({ apiVersion: 'v0', kind: 'TierTemplates', templates: [] }), 'INVALID_YAML'],
      [stringify({ apiVersion: 'tenant-router/v1', kind: 'TierTemplates', templates: [{ ...free, limits: { ...free.limits, burst: 1 } }] }), 'INVALID_STATE'],
      [stringify({ apiVersion: 'tenant-router/v1', kind: 'TierTemplates', templates: [mine, mine] }, { aliasDuplicateObjects: false }), 'INVALID_YAML'],
      ['a: &x [1]\nb: *x\n', 'INVALID_YAML'],
    ];
    for (const [body, code] of bad) {
      const r = await admin('/admin/v1/tiers/import', { method: 'POST', body });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect((await errorOf(r)).code).toBe(code);
    }
  });
});
