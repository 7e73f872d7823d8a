/** tenantctl tier: export → import round trips, and a custom template added through YAML. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { admin, tenantctl } from './support.js';

const stack = inject('stack');
const dir = mkdtempSync(join(tmpdir(), 'tenantctl-tier-'));

/** The YAML block of template `name` in an export (from its `- name:` line to the next one). */
function block(yaml: string, name: string): string {
  const start = yaml.indexOf(`  - name: ${name}\n`);
  if (start < 0) throw new Error(`no template ${name} in the export`);
  const next = yaml.indexOf('\n  - name: ', start + 1);
  return yaml.slice(start, next < 0 ? yaml.length : next + 1);
}

describe('tenantctl tier export/import', () => {
  it('exports the API bytes exactly, and importing them back changes nothing', async () => {
    const file = join(dir, 'tiers.yaml');
    const r = await tenantctl('tier', 'export', '--out', file);
    expect(r.code, r.stderr).toBe(0);
    const api = (await admin<string>(stack, 'GET', '/tiers/export')).body;
    expect(readFileSync(file, 'utf8')).toBe(api);
    const stdout = await tenantctl('tier', 'export');
    expect(stdout.stdout).toBe(api);

    const imported = await tenantctl('tier', 'import', file);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^created: -$/m);
    expect(imported.stdout).toMatch(/^updated: -$/m);
    expect(imported.stdout).toMatch(/^unchanged: FREE, STANDARD, PREMIUM, ENTERPRISE, ENTERPRISE_PLUS, WHITE_LABEL$/m);
  });

  it('creates a custom template from an edited export; the next export holds it byte for byte', async () => {
    const yaml = (await tenantctl('tier', 'export')).stdout;
    const gold = block(yaml, 'FREE')
      .replace('name: FREE', 'name: CLI_GOLD')
      .replace('builtin: true', 'builtin: false')
      .replace('basedOn: null', 'basedOn: FREE')
      .replace(/description: .*\n/, 'description: FREE with a faster bucket\n')
      .replace('ratePerMinute: 60\n', 'ratePerMinute: 120\n');
    expect(gold).toContain('ratePerMinute: 120\n');
    const file = join(dir, 'with-gold.yaml');
    writeFileSync(file, yaml + gold);

    const r = await tenantctl('tier', 'import', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^created: CLI_GOLD$/m);
    expect(r.stdout).toMatch(/^updated: -$/m);

    const t = (await admin(stack, 'GET', '/tiers/CLI_GOLD')).body;
    expect(t).toMatchObject({ name: 'CLI_GOLD', builtin: false, basedOn: 'FREE', limits: { ratePerMinute: 120, burst: 20 } });

    const again = await tenantctl('tier', 'export', '--names', 'FREE,CLI_GOLD');
    expect(again.stdout).toContain(gold);
    // Custom templates sort after the built-ins (by price, then name): the whole file comes back.
    expect((await tenantctl('tier', 'export')).stdout).toBe(yaml + gold);
    const reimport = await tenantctl('tier', 'import', file);
    expect(reimport.stdout).toMatch(/^unchanged: .*CLI_GOLD$/m);

    const list = await tenantctl('tier', 'list');
    expect(list.stdout).toMatch(/^CLI_GOLD +no +FREE +row +120 +20 /m);
  });

  it('refuses a changed built-in tier (exit 1, nothing written)', async () => {
    const yaml = (await tenantctl('tier', 'export', '--names', 'FREE')).stdout;
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, yaml.replace('ratePerMinute: 60\n', 'ratePerMinute: 61\n'));
    const r = await tenantctl('tier', 'import', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error INVALID_STATE: built-in tier FREE/m);
    expect((await admin(stack, 'GET', '/tiers/FREE')).body.limits.ratePerMinute).toBe(60);
  });
});
