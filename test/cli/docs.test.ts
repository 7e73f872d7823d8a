/**
 * The Swagger UI page loads exactly the files of the pinned swagger-ui-dist: its integrity values
 * are recomputed here (Node can read node_modules; workerd cannot) from the installed package and
 * compared with the page the control plane serves.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ROOT } from './support.js';

const stack = inject('stack');
const dist = resolve(ROOT, 'node_modules/swagger-ui-dist');
const sri = (file: string) => `sha384-${createHash('sha384').update(readFileSync(resolve(dist, file))).digest('base64')}`;

describe('Swagger UI assets', () => {
  it('pins swagger-ui-dist 5.35.0 with the sha384 integrity of its bundle and stylesheet, loaded anonymously', async () => {
    const version = (JSON.parse(readFileSync(resolve(dist, 'package.json'), 'utf8')) as { version: string }).version;
    expect(version).toBe('5.35.0');
    const res = await fetch(`${stack.control.url}/admin/v1/docs`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const tag = (kind: 'script' | 'link', attr: 'src' | 'href', file: string) => {
      const found = html.match(new RegExp(`<${kind}\\b[^>]*\\b${attr}="https://cdn\\.jsdelivr\\.net/npm/swagger-ui-dist@${version}/${file.replace('.', '\\.')}"[^>]*>`));
      expect(found, `${kind} ${file}`).not.toBeNull();
      return found![0];
    };
    for (const [kind, attr, file] of [['script', 'src', 'swagger-ui-bundle.js'], ['link', 'href', 'swagger-ui.css']] as const) {
      const t = tag(kind, attr, file);
      expect(t).toContain(`integrity="${sri(file)}"`);
      expect(t).toContain('crossorigin="anonymous"');
    }
  });
});
