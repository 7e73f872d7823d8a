/**
 * What `npm test` needs from Debian's packages (redis-server, chromium): present, or installed once
 * when running as root on a machine with apt-get; otherwise one sentence saying what to install,
 * and a non-zero exit.
 */
import { spawnSync } from 'node:child_process';

export const hasCommand = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Ensures `present()` holds, installing Debian package `pkg` if it does not; `missing` is the sentence for machines where it cannot. */
export function ensureDebianPackage(pkg: string, present: () => boolean, missing: string): void {
  if (present()) return;
  if (process.getuid?.() === 0 && hasCommand('apt-get')) {
    console.error(`${pkg} is missing: installing it from Debian packages (apt-get install ${pkg}) ...`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', env }) : update;
    if (install.status === 0 && present()) return;
    console.error(`could not install ${pkg}; install it yourself (apt-get install -y ${pkg}) and run the tests again`);
  } else {
    console.error(missing);
  }
  process.exit(1);
}
