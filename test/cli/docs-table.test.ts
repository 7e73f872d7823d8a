/**
 * docs/tenantctl.md maps every admin API operation to its command: the control plane's OpenAPI
 * document is the list of operations, `tenantctl --help` the list of commands.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ROOT, tenantctl } from './support.js';

const stack = inject('stack');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** Not operations on the admin API's data: the document itself and its viewer. */
const DOCUMENTS = new Set(['GET /openapi.json', 'GET /docs']);

/** The table's rows: `METHOD /path` → the commands named in its second cell. */
function documented(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of readFileSync(resolve(ROOT, 'docs/tenantctl.md'), 'utf8').split('\n')) {
    const m = /^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| (.+) \|$/.exec(line);
    if (!m) continue;
    const commands = [...m[3]!.matchAll(/`tenantctl ([a-z]+(?: [a-z]+)*)/g)].map((c) => c[1]!);
    rows.set(`${m[1]} ${m[2]}`, commands);
  }
  return rows;
}

describe('docs/tenantctl.md', () => {
  it('has a row for every operation of the OpenAPI document, and every command it names exists', async () => {
    const doc = await (await fetch(`${stack.control.url}/admin/v1/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => m in item)
      .map((m) => `${m.toUpperCase()} ${path.replace(/^\/admin\/v1/, '').replace(/(.)\/$/, '$1')}`))
      .filter((op) => !DOCUMENTS.has(op));
    expect(operations.length).toBeGreaterThan(20);
    const rows = documented();
    expect(operations.filter((op) => !rows.has(op)), 'operations without a row in docs/tenantctl.md').toEqual([]);

    const help = (await tenantctl('--help')).stdout;
    const commands = new Set([...help.matchAll(/^ {2}([a-z]+(?: [a-z]+)*?)(?: <[^>]+>(?:\.\.\.)?)* {2,}\S/gm)].map((m) => m[1]!));
    for (const [op, named] of rows) {
      expect(named.length, op).toBeGreaterThan(0);
      for (const c of named) expect(commands.has(c), `${op}: tenantctl ${c}`).toBe(true);
    }
  });
});
