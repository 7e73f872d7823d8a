/**
 * The dashboard's browser tests drive Debian's `chromium` (/usr/bin/chromium) with playwright-core,
 * which never downloads a browser of its own. On a Debian machine as root it is installed from
 * Debian's packages (once); otherwise this says in one sentence what to do and exits non-zero.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export const CHROMIUM = '/usr/bin/chromium';
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (!existsSync(CHROMIUM)) {
  const root = process.getuid?.() === 0;
  if (root && has('apt-get')) {
    console.error('chromium is missing: installing it from Debian packages (apt-get install chromium) ...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env }) : update;
    if (install.status !== 0 || !existsSync(CHROMIUM)) {
      console.error('could not install chromium; install it yourself (apt-get install -y chromium) and run the tests again');
      process.exit(1);
    }
  } else {
    console.error(`the dashboard tests need Chromium at ${CHROMIUM}: install it (Debian/Ubuntu: sudo apt-get install -y chromium) and run them again`);
    process.exit(1);
  }
}
