/** The tool's version: the `version` of the package.json beside this source tree, whatever the cwd. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from './config.js';

/** The package version, e.g. `0.1.0`. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}
