/**
 * `npm test` runs the real Redis path (L2 cache, invalidation, faults), so it needs `redis-server`.
 * On a fresh Debian machine as root it is installed from Debian's packages (about 20 s, once);
 * otherwise this says in one sentence what to do and exits non-zero.
 */
import { spawnSync } from 'node:child_process';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (!has('redis-server')) {
  const root = process.getuid?.() === 0;
  if (root && has('apt-get')) {
    console.error('redis-server is missing: installing it from Debian packages (apt-get install redis-server) ...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'inherit', env }) : update;
    if (install.status !== 0 || !has('redis-server')) {
      console.error('could not install redis-server; install it yourself (apt-get install -y redis-server) and run the tests again');
      process.exit(1);
    }
  } else {
    console.error('the tests need redis-server: install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) and run them again');
    process.exit(1);
  }
}
