/**
 * The size of a dry-run bundle as Cloudflare counts it against the Workers limit: every module
 * wrangler would upload (not its source maps or README), raw and gzip-compressed together, the
 * way wrangler's own "Total Upload" line measures it. The limit check and the table are pure.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The Workers Free plan's limit on a Worker's compressed size (the Paid plan allows 10 MiB). */
export const FREE_PLAN_LIMIT_BYTES = 3 * 1024 * 1024;

/** One bundle's size: modules uploaded, their bytes together, raw and gzip-compressed. */
export interface BundleSize { worker: string; env: string; modules: number; rawBytes: number; gzipBytes: number }

/** Files of `dir` that are uploaded: everything but source maps and wrangler's README. */
function uploadedFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...uploadedFiles(path));
    else if (!name.endsWith('.map') && relative(dir, path) !== 'README.md') out.push(path);
  }
  return out.sort();
}

/** Measures the bundle wrangler wrote to `dir`. */
export function measureBundle(dir: string, worker: string, env: string): BundleSize {
  const files = uploadedFiles(dir);
  if (files.length === 0) throw new Error(`${dir} holds no bundle`);
  const all = Buffer.concat(files.map((f) => readFileSync(f)));
  return { worker, env, modules: files.length, rawBytes: all.byteLength, gzipBytes: gzipSync(all).byteLength };
}

/** The bundles over `limit` compressed bytes, each as one sentence. */
export function overLimit(sizes: readonly BundleSize[], limit = FREE_PLAN_LIMIT_BYTES): string[] {
  const which = limit === FREE_PLAN_LIMIT_BYTES ? "the Workers Free plan's" : 'the';
  return sizes.filter((s) => s.gzipBytes > limit).map((s) =>
    `${s.worker} (${s.env}) is ${mib(s.gzipBytes)} compressed, over ${which} ${mib(limit)} limit: Cloudflare would refuse to deploy it`);
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
/** `n` bytes in MiB, two decimals. */
export const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(2)} MiB`;

/** A fixed-width table: worker, env, modules, raw, gzip, share of the limit. */
export function sizeTable(sizes: readonly BundleSize[], limit = FREE_PLAN_LIMIT_BYTES): string {
  const rows = [['worker', 'env', 'modules', 'raw', 'gzip', 'of limit'],
    ...sizes.map((s) => [s.worker, s.env, String(s.modules), kib(s.rawBytes), kib(s.gzipBytes), `${((s.gzipBytes / limit) * 100).toFixed(1)} %`])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
