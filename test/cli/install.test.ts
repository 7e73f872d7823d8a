/**
 * tenantctl installed without devDependencies: the package (package.json, lock, src/, migrations/)
 * copied to a temporary directory and installed with `npm ci --omit=dev` from the npm cache, then
 * run from another directory through its launcher and as the package's `bin` (npx), against the
 * test stack. It proves that nothing tenantctl loads at run time is a devDependency: --help loads
 * every command module.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { admin, collect, ROOT, spawnCli, STACK_FILE } from './support.js';

const run = promisify(execFile);
const stack = inject('stack');
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const dir = mkdtempSync(join(tmpdir(), 'tenantctl-install-'));
const elsewhere = mkdtempSync(join(tmpdir(), 'tenantctl-cwd-'));
const installed = join(dir, 'src/cli/tenantctl.mjs');

/** The environment without npm's own variables (vitest may run under npx) or TENANTCTL_*. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|TENANTCTL_)/i.test(k)));

async function npmCi(mode: '--offline' | '--prefer-offline') {
  return run('npm', ['ci', '--omit=dev', mode, '--no-audit', '--no-fund'], { cwd: dir, env, maxBuffer: 16 << 20 });
}

beforeAll(async () => {
  for (const f of ['package.json', 'package-lock.json']) cpSync(resolve(ROOT, f), join(dir, f));
  for (const d of ['src', 'migrations']) cpSync(resolve(ROOT, d), join(dir, d), { recursive: true });
  // The cache normally holds every package; a package it lacks is fetched from the registry once.
  await npmCi('--offline').catch((err: { stderr?: string }) => {
    if (!/ENOTCACHED/.test(err.stderr ?? '')) throw err;
    return npmCi('--prefer-offline');
  });
}, 300_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

describe('tenantctl after npm ci --omit=dev', () => {
  it('installed the runtime dependencies only (tsx among them, no devDependency)', () => {
    expect(existsSync(join(dir, 'node_modules/tsx/package.json'))).toBe(true);
    const present = Object.keys(pkg.devDependencies).filter((d) => existsSync(join(dir, 'node_modules', d, 'package.json')));
    expect(present).toEqual([]);
  });

  it('runs --version and --help from another directory', async () => {
    const version = await collect(spawnCli(['--version'], { cli: installed, stack: false, cwd: elsewhere }));
    expect(version).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    const help = await collect(spawnCli(['--help'], { cli: installed, stack: false, cwd: elsewhere }));
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^groups: tenant, /m);
    expect(help.stdout).toMatch(/^ {2}tier create <name> +Create a custom template/m);
  });

  it('runs a real command against the control plane', async () => {
    const r = await collect(spawnCli(['tenant', 'list', '--limit', '500', '--json'], { cli: installed, cwd: elsewhere }));
    expect(r.code, r.stderr).toBe(0);
    const api = (await admin(stack, 'GET', '/tenants?limit=500')).body;
    expect(JSON.parse(r.stdout)).toEqual(api);
    const show = await collect(spawnCli(['tier', 'show', 'FREE'], { cli: installed, cwd: elsewhere }));
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^name +FREE$/m);
  });

  it('runs as the package bin through npx --prefix, without installing anything', async () => {
    const { stdout } = await run('npx', ['--prefix', dir, '--no', '--', 'tenantctl', '--version'], { cwd: elsewhere, env });
    expect(stdout).toBe(`${pkg.version}\n`);
    const { stdout: tiers } = await run('npx', ['--prefix', dir, '--no', '--', 'tenantctl', '--stack', STACK_FILE, 'tier', 'list', '--json'], { cwd: elsewhere, env });
    expect(JSON.parse(tiers)).toEqual((await admin(stack, 'GET', '/tiers')).body);
  });
});
