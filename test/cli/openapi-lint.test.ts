/**
 * The admin API's OpenAPI document, as the stack's control worker serves it, passes Redocly's
 * `recommended` ruleset (test/openapi/redocly.yaml) with no error. Node runs it because the linter
 * is a process (workerd cannot spawn one); it needs no network (telemetry and update checks off).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ROOT } from './support.js';

const stack = inject('stack');
type Op = { operationId?: string; parameters?: ({ $ref?: string; name?: string; in?: string })[]; responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }> };
type Doc = { servers: { url: string }[]; paths: Record<string, Record<string, Op>> };

interface LintReport { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[] }

function redoclyLint(file: string): Promise<LintReport> {
  const bin = resolve(ROOT, 'node_modules/.bin/redocly');
  const args = ['lint', file, '--config', resolve(ROOT, 'test/openapi/redocly.yaml'), '--format=json'];
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
  return new Promise((done, fail) => {
    // Exit code 1 means "problems found": the JSON report on stdout says which.
    execFile(bin, args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      try { done(JSON.parse(stdout.slice(stdout.indexOf('{'))) as LintReport); } catch { fail(new Error(`redocly failed: ${String(err)} ${stderr.slice(0, 2000)}`)); }
    });
  });
}

describe('OpenAPI document', () => {
  it('lints with 0 errors under the recommended ruleset', async () => {
    const res = await fetch(`${stack.control.url}/admin/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const file = join(mkdtempSync(join(tmpdir(), 'openapi-')), 'openapi.json');
    writeFileSync(file, await res.text());
    const report = await redoclyLint(file);
    const errors = report.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
    console.log(`redocly lint: ${report.totals.errors} errors, ${report.totals.warnings} warnings`
      + report.problems.filter((p) => p.severity === 'warn').map((p) => `\n  warn ${p.ruleId} ${p.location[0]?.pointer}`).join(''));
    expect(errors).toEqual([]);
    expect(report.totals.errors).toBe(0);
  });

  it('names its server, gives every operation an id, and declares the shared headers', async () => {
    const doc = await (await fetch(`${stack.control.url}/admin/v1/openapi.json`)).json() as Doc;
    expect(doc.servers[0]!.url).toBe(new URL(stack.control.url).origin);
    const ids: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        // The domain routes are given their ids with their own change.
        if (!path.includes('/domains') && !path.endsWith('/jwt') && !path.endsWith('/geo')) {
          expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z]+[A-Za-z]*$/);
        }
        if (op.operationId) ids.push(op.operationId);
        for (const [status, r] of Object.entries(op.responses)) expect(r.headers, `${method} ${path} ${status}`).toHaveProperty('X-Request-Id');
        if (method === 'post') {
          expect(op.parameters, `${method} ${path}`).toContainEqual({ $ref: '#/components/parameters/IdempotencyKey' });
          expect(op.responses['201'] ?? op.responses['200']).toHaveProperty('headers.Idempotent-Replayed');
        }
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    const tenant = doc.paths['/admin/v1/tenants/{id}']!;
    expect(tenant.get!.parameters).toContainEqual(expect.objectContaining({ name: 'If-None-Match', in: 'header' }));
    expect(tenant.patch!.parameters).toContainEqual(expect.objectContaining({ name: 'If-Match', in: 'header' }));
    expect(tenant.get!.responses['200']!.headers).toHaveProperty('ETag');
    expect(Object.keys(tenant.patch!.responses)).toContain('412');
    expect(doc.paths['/admin/v1/tenants']!.post!.responses['202']!.headers).toHaveProperty('Location');
    expect(Object.keys(doc.paths['/admin/v1/tiers/export']!.get!.responses['200']!.content!)).toEqual(['text/yaml']);
  });
});
