/**
 * What gets deployed where: the two Workers, the two environments, and the exact wrangler command
 * lines for building, deploying and re-uploading secrets. Pure, so the build script, the deploy
 * script, their tests and docs/deploy.md all speak of the same commands.
 */

/** The deployable environments; the top level of each wrangler config is local-only. */
export const ENVIRONMENTS = ['staging', 'production'] as const;
/** A deployable environment's name. */
export type DeployEnv = (typeof ENVIRONMENTS)[number];

/** One deployable Worker: its config and its secrets file. */
export interface WorkerTarget {
  name: 'control' | 'router';
  /** The wrangler config, relative to the repository root. */
  config: string;
  /** Its secrets file in `.secrets/<env>/`. */
  secretsFile: 'control.env' | 'router.env';
}

/**
 * In deploy order: the routers first. A control plane seals new connection strings under its
 * ring's current MASTER_KEY; routers must already hold that key (a rotation puts the new key first
 * in both files), so the routers go out before it, and a failed router deploy stops before the
 * control plane seals anything they cannot open. Schema changes come from the bootstrap, before either.
 */
export const WORKERS: readonly WorkerTarget[] = [
  { name: 'router', config: 'wrangler.toml', secretsFile: 'router.env' },
  { name: 'control', config: 'workers/control/wrangler.toml', secretsFile: 'control.env' },
];

/** Whether `s` names a deployable environment. */
export const isDeployEnv = (s: string | undefined): s is DeployEnv => (ENVIRONMENTS as readonly string[]).includes(s ?? '');

/** `-c <config>` for every worker but the router (wrangler's default config). */
const configArgs = (w: WorkerTarget): string[] => (w.config === 'wrangler.toml' ? [] : ['-c', w.config]);

/** `dist/<worker>-<env>`: where a dry-run build writes its bundle. */
export const outdirOf = (w: WorkerTarget, env: DeployEnv): string => `dist/${w.name}-${env}`;

/**
 * `wrangler deploy --dry-run`: bundles exactly what a deploy would upload, needs no account.
 * `outdir` must be absolute: wrangler resolves a relative one against the config's folder.
 */
export function dryRunArgs(w: WorkerTarget, env: DeployEnv, outdir: string, secretsFile?: string): string[] {
  return ['deploy', '--dry-run', '--outdir', outdir, '--env', env, ...configArgs(w),
    ...(secretsFile ? ['--secrets-file', secretsFile] : [])];
}

/**
 * `wrangler deploy` with the secrets in the same upload (`--secrets-file`): the new code and its
 * secrets become one Worker version, so no request ever sees new code with old secrets, and a
 * Worker deployed for the first time never exists without them.
 */
export function deployArgs(w: WorkerTarget, env: DeployEnv, secretsFile: string): string[] {
  return ['deploy', '--env', env, ...configArgs(w), '--secrets-file', secretsFile];
}

/** `wrangler secret bulk`: replaces secrets of a deployed Worker without a code change (rotation). */
export function secretBulkArgs(w: WorkerTarget, env: DeployEnv, secretsFile: string): string[] {
  return ['secret', 'bulk', secretsFile, '--env', env, ...configArgs(w)];
}

/** `wrangler secret put NAME`: one secret, read from stdin (the value never goes on a command line). */
export function secretPutArgs(w: WorkerTarget, env: DeployEnv, name: string): string[] {
  return ['secret', 'put', name, '--env', env, ...configArgs(w)];
}

/** A command line as a person would type it (arguments quoted only when they need it). */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
