/**
 * `npm test` runs the real Redis path (L2 cache, invalidation, faults), so it needs `redis-server`.
 * On a fresh Debian machine as root it is installed from Debian's packages (about 20 s, once);
 * otherwise this says in one sentence what to do and exits non-zero.
 */
import { ensureDebianPackage, hasCommand } from './debian-package.js';

ensureDebianPackage('redis-server', () => hasCommand('redis-server'),
  'the tests need redis-server: install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) and run them again');
