/** Pure control-plane logic: the audit chain, YAML templates, limit conversions. */
import { describe, expect, it } from 'vitest';
import { GENESIS, verifyChain, type AuditRow } from '../../src/control/audit-chain.js';
import { exportTemplates, importTemplates } from '../../src/control/template-yaml.js';
import { fromColumns, toColumns } from '../../src/control/limits.js';
import { sha256 } from '../../src/migrations/runner.js';
import type { Template } from '../../src/control/schemas.js';

async function chain(n: number): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  let prev = GENESIS.hash;
  for (let seq = 1; seq <= n; seq++) {
    const at = `2026-11-23T10:00:0${seq}.123456Z`;
    const entry = JSON.stringify({ at, seq, actor: 'a', action: 'x.y', detail: {}, tenantId: null, requestId: `r${seq}` });
    const hash = await sha256(prev + entry);
    rows.push({ seq, at, actor: 'a', action: 'x.y', tenant_id: null, request_id: `r${seq}`, entry, prev_hash: prev, hash });
    prev = hash;
  }
  return rows;
}

describe('audit chain', () => {
  it('accepts an intact chain and reports the first break of each kind', async () => {
    const rows = await chain(4);
    expect(await verifyChain(rows, GENESIS)).toEqual({ head: { seq: 4, hash: rows[3]!.hash } });
    expect(await verifyChain([rows[0]!, rows[2]!, rows[3]!], GENESIS)).toEqual({ brokenAt: 2, reason: 'entry 2 is missing' });
    expect(await verifyChain(rows.map((r) => (r.seq === 3 ? { ...r, actor: 'mallory' } : r)), GENESIS)).toMatchObject({ brokenAt: 3 });
    expect(await verifyChain(rows.map((r) => (r.seq === 2 ? { ...r, entry: r.entry.replace('x.y', 'x.z') } : r)), GENESIS)).toMatchObject({ brokenAt: 2, reason: 'entry does not match its hash' });
    const rehashed = { ...rows[1]!, entry: rows[1]!.entry.replace('r2', 'r9'), request_id: 'r9' };
    rehashed.hash = await sha256(rehashed.prev_hash + rehashed.entry);
    expect(await verifyChain([rows[0]!, rehashed, rows[2]!, rows[3]!], GENESIS)).toMatchObject({ brokenAt: 3, reason: 'previous hash does not match the chain' });
    // Postgres's "+00" offset and fewer fraction digits name the same instant.
    expect(await verifyChain([{ ...rows[0]!, at: '2026-11-23 10:00:01.123456+00' }], GENESIS)).toMatchObject({ head: { seq: 1 } });
  });
});

describe('templates as YAML', () => {
  const t: Template = {
    name: 'GOLD', builtin: false, basedOn: 'STANDARD', description: 'Gold: "quoted" and: colons', isolation: 'row',
    limits: { ratePerMinute: 900, burst: 100, monthlyRequests: 2_000_000, hardCap: false, concurrency: 20, failMode: 'open',
      breakerFailures: 10, breakerWindowSeconds: 30, breakerCooldownSeconds: 10, storageMb: 1024, connectionLimit: 20 },
    pricing: { monthlyCents: 4900, overageCentsPer1k: 9 },
  };

  it('round-trips exactly: parse(export) equals the input and export(parse(export)) is the same text', () => {
    const text = exportTemplates([t]);
    expect(importTemplates(text)).toEqual([t]);
    expect(exportTemplates(importTemplates(text))).toBe(text);
  });

  it('refuses unknown fields, bad values and duplicate names with INVALID_YAML', () => {
    const text = exportTemplates([t]);
    for (const bad of [text.replace('burst: 100', 'burst: 0'), text.replace('isolation: row', 'isolation: shared'),
      text.replace('  - name: GOLD', '  - name: GOLD\n    colour: gold'), exportTemplates([t, t]), '[]', '']) {
      expect(() => importTemplates(bad)).toThrowError(expect.objectContaining({ code: 'INVALID_YAML' }));
    }
  });
});

describe('limits', () => {
  it('converts between the API and the column names both ways', () => {
    expect(toColumns({ ratePerMinute: 5, hardCap: true, failMode: 'closed' })).toEqual({ rate_per_minute: 5, hard_cap: true, fail_mode: 'closed' });
    expect(fromColumns({ rate_per_minute: 5, monthly_requests: '100', unknown: 1 })).toEqual({ ratePerMinute: 5, monthlyRequests: 100 });
  });
});
