/** Pure control-plane logic: the audit chain, YAML templates, limits, domain policy, refusal summaries, outbox keys. */
import { describe, expect, it } from 'vitest';
import { GENESIS, verifyChain, type AuditRow } from '../../src/control/audit-chain.js';
import { exportTemplates, importTemplates } from '../../src/control/template-yaml.js';
import { fromColumns, toColumns } from '../../src/control/limits.js';
import { sha256 } from '../../src/migrations/runner.js';
import type { Template } from '../../src/control/schemas.js';
import { checkDomain, domainCap } from '../../src/control/domain-policy.js';
import { distinctKeys } from '../../src/control/outbox.js';
import { RefusalSummary } from '../../src/control/refusals.js';
import { RefusalWindows } from '../../src/policy/security-audit.js';

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
      breakerFailures: 10, breakerWindowSeconds: 30, breakerCooldownSeconds: 10, storageMb: 1024, connectionLimit: 20, maxBodyBytes: 10_485_760 },
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

describe('custom domain policy', () => {
  const bases = ['tenants.example.com', 'localhost'];
  const code = (raw: string) => { try { return checkDomain(raw, bases); } catch (e) { return (e as { code: string }).code; } };

  it('accepts registrable names outside the base domains, in punycode', () => {
    expect(code('Shop.Example.ORG.')).toBe('shop.example.org');
    expect(code('bücher.example')).toBe('xn--bcher-kva.example');
    expect(code('foo.github.io')).toBe('foo.github.io');
    expect(code('example.org')).toBe('example.org');
  });

  it('refuses base domains at any depth, their parents, public suffixes, IP literals and non-names', () => {
    for (const raw of ['tenants.example.com', 'acme.tenants.example.com', 'login.acme.tenants.example.com', 'example.com',
      'co.uk', 'github.io', 'blogspot.com', 'a.localhost']) expect([raw, code(raw)]).toEqual([raw, 'DOMAIN_NOT_ALLOWED']);
    for (const raw of ['127.0.0.1', '[::1]', '::1', 'host:443', 'localhost', 'com', 'no spaces.org', '']) expect([raw, code(raw)]).toEqual([raw, 'BAD_REQUEST']);
  });

  it('caps domains by the built-in tier a template derives from, else by isolation', () => {
    expect([domainCap('FREE', 'row'), domainCap('STANDARD', 'row'), domainCap('PREMIUM', 'schema'), domainCap('WHITE_LABEL', 'database')]).toEqual([1, 5, 25, 100]);
    expect([domainCap(null, 'row'), domainCap(null, 'schema'), domainCap(null, 'database')]).toEqual([5, 25, 100]);
  });
});

describe('refusal summaries (control plane)', () => {
  it('writes the first refusal at once, then at most one summary per window with counts and a few clients', () => {
    let now = Date.parse('2026-11-23T10:00:00Z');
    const s = new RefusalSummary(60_000, () => now);
    expect(s.note('UNAUTHENTICATED', '192.0.2.1')).toMatchObject({ total: 1, byReason: { UNAUTHENTICATED: 1 }, sampleClients: ['192.0.2.1'] });
    for (let i = 0; i < 1000; i++) expect(s.note(i % 3 ? 'UNAUTHENTICATED' : 'INVALID_TOKEN', `198.51.100.${i % 50}`)).toBeNull();
    now += 59_999;
    expect(s.due()).toBeNull();
    now += 1;
    const e = s.note('INVALID_TOKEN', null)!;
    expect(e).toEqual({ since: '2026-11-23T10:00:00.000Z', until: '2026-11-23T10:01:00.000Z', total: 1001,
      byReason: { UNAUTHENTICATED: 666, INVALID_TOKEN: 335 }, sampleClients: ['198.51.100.0', '198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'] });
    expect(s.due()).toBeNull();
    // A summary whose write failed goes out with the next one.
    s.restore(e);
    now += 60_000;
    expect(s.due()).toMatchObject({ total: 1001 });
  });
});

describe('refusal windows (edge)', () => {
  it('per key: the first event is written, the rest counted into the next entry after the window', () => {
    let now = 0;
    const w = new RefusalWindows(60_000, 2, () => now);
    expect(w.hit('a:TENANT_MISMATCH')).toBe(1);
    expect(w.hit('a:TENANT_MISMATCH')).toBeNull();
    expect(w.hit('a:TENANT_MISMATCH')).toBeNull();
    expect(w.hit('b:TENANT_MISMATCH')).toBe(1);
    now = 60_000;
    expect(w.hit('a:TENANT_MISMATCH')).toBe(3);
    // At capacity the oldest window goes: memory stays bounded under a flood of tenants.
    expect(w.hit('c:TENANT_MISMATCH')).toBe(1);
    expect(w.hit('b:TENANT_MISMATCH')).toBe(1);
  });
});

describe('outbox keys', () => {
  it('dedupes keys, first occurrence first', () => {
    expect(distinctKeys([{ kind: 'id', value: 'x' }, { kind: 'slug', value: 'x' }, { kind: 'id', value: 'x' }])).toEqual([{ kind: 'id', value: 'x' }, { kind: 'slug', value: 'x' }]);
  });
});
