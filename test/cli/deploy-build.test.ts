/**
 * `npm run build`: bundles measured the way Cloudflare counts them (wrangler's own "Total Upload"
 * figures), a table, and exit 1 with a sentence for a bundle over the limit.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FREE_PLAN_LIMIT_BYTES, measureBundle, overLimit, sizeTable } from '../../src/deploy/bundle-size.js';
import { dryRunArgs, WORKERS } from '../../src/deploy/targets.js';
import { runWrangler } from '../../src/deploy/wrangler.js';
import { ROOT } from './support.js';

describe('bundle sizes', () => {
  it('counts every uploaded module together, not source maps or the README', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    mkdirSync(join(dir, 'lib'));
    const js = Buffer.from('export default { fetch() { return new Response("hi") } }\n'.repeat(50));
    const wasm = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251));
    writeFileSync(join(dir, 'index.js'), js);
    writeFileSync(join(dir, 'lib/mod.wasm'), wasm);
    writeFileSync(join(dir, 'index.js.map'), 'x'.repeat(100_000));
    writeFileSync(join(dir, 'README.md'), 'wrangler wrote this');
    const size = measureBundle(dir, 'router', 'staging');
    expect(size).toEqual({ worker: 'router', env: 'staging', modules: 2, rawBytes: js.length + wasm.length, gzipBytes: gzipSync(Buffer.concat([js, wasm])).length });
  });

  it('matches wrangler\'s own raw and gzip figures for the router bundle', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'router-staging-'));
    const router = WORKERS.find((w) => w.name === 'router')!;
    const run = await runWrangler(dryRunArgs(router, 'staging', outdir), { capture: true });
    expect(run.code, run.output).toBe(0);
    const [, raw, gzip] = run.output.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/)!;
    const size = measureBundle(outdir, 'router', 'staging');
    expect((size.rawBytes / 1024).toFixed(2)).toBe(raw);
    expect((size.gzipBytes / 1024).toFixed(2)).toBe(gzip);
  });

  it('names each bundle over the limit in a sentence, and tabulates all', () => {
    const sizes = [{ worker: 'router', env: 'production', modules: 1, rawBytes: 12 * 1024 * 1024, gzipBytes: 3.5 * 1024 * 1024 },
      { worker: 'control', env: 'production', modules: 1, rawBytes: 1024 * 1024, gzipBytes: 300 * 1024 }];
    expect(overLimit(sizes)).toEqual(["router (production) is 3.50 MiB compressed, over the Workers Free plan's 3.00 MiB limit: Cloudflare would refuse to deploy it"]);
    expect(overLimit(sizes, 10 * 1024 * 1024)).toEqual([]);
    expect(FREE_PLAN_LIMIT_BYTES).toBe(3 * 1024 * 1024);
    expect(sizeTable(sizes).split('\n')).toEqual([
      'worker   env         modules          raw        gzip  of limit',
      'router   production        1  12288.0 KiB  3584.0 KiB   116.7 %',
      'control  production        1   1024.0 KiB   300.0 KiB     9.8 %',
    ]);
  });
});

describe('npm run build', () => {
  it('fails with a sentence when a bundle is over the limit it checks', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/deploy/build.ts'), '--env', 'staging', '--limit-mib', '0.3'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^worker +env +modules +raw +gzip +of limit\nrouter +staging +1 .*\ncontrol +staging +1 /);
    expect(r.stderr.trim()).toMatch(/^control \(staging\) is 0\.\d\d MiB compressed, over the 0\.30 MiB limit: Cloudflare would refuse to deploy it$/);
  });

  it('refuses an unknown environment', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/deploy/build.ts'), '--env', 'prod'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('unknown environment "prod": use staging or production');
  });
});
