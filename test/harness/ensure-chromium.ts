/**
 * The dashboard's browser tests drive Debian's `chromium` (/usr/bin/chromium) with playwright-core,
 * which never downloads a browser of its own. On a Debian machine as root it is installed from
 * Debian's packages (once); otherwise this says in one sentence what to do and exits non-zero.
 */
import { existsSync } from 'node:fs';
import { ensureDebianPackage } from './debian-package.js';

export const CHROMIUM = '/usr/bin/chromium';

ensureDebianPackage('chromium', () => existsSync(CHROMIUM),
  `the dashboard tests need Chromium at ${CHROMIUM}: install it (Debian/Ubuntu: sudo apt-get install -y chromium) and run them again`);
