/**
 * The Swagger UI page of the admin API. Operators open it with admin credentials at hand, so its
 * code must be exactly the code reviewed: the bundle is pinned to one version and loaded with
 * Subresource Integrity (the browser refuses any other bytes, whatever the CDN serves), and a
 * Content-Security-Policy allows no other script. The hashes are those of the files of
 * swagger-ui-dist@SWAGGER_UI_VERSION (a test recomputes them from node_modules); to upgrade, bump
 * the version and the hashes together.
 */
import type { Context } from 'hono';

export const SWAGGER_UI_VERSION = '5.35.0';
const BASE = `https://cdn.jsdelivr.net/npm/swagger-ui-dist@${SWAGGER_UI_VERSION}`;

/** The pinned assets and their sha384 integrity values. */
export const SWAGGER_UI_ASSETS = {
  script: { url: `${BASE}/swagger-ui-bundle.js`, integrity: 'sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9' },
  stylesheet: { url: `${BASE}/swagger-ui.css`, integrity: 'sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I' },
} as const;

/** The page for the OpenAPI document at `specUrl` (a path of ours, never user input). */
export function swaggerPage(specUrl: string, nonce: string): string {
  const { script, stylesheet } = SWAGGER_UI_ASSETS;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tenant router control plane</title>
<link rel="stylesheet" href="${stylesheet.url}" integrity="${stylesheet.integrity}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${script.url}" integrity="${script.integrity}" crossorigin="anonymous"></script>
<script nonce="${nonce}">
window.onload = () => { window.ui = SwaggerUIBundle({ dom_id: '#swagger-ui', url: ${JSON.stringify(specUrl)} }); };
</script>
</body>
</html>
`;
}

/** Serves the page with a CSP that admits the pinned CDN and this response's inline script only. */
export const swaggerDocs = (specUrl: string) => (c: Context) => {
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  c.header('Content-Security-Policy', [
    "default-src 'none'", `script-src https://cdn.jsdelivr.net 'nonce-${nonce}'`, "style-src https://cdn.jsdelivr.net 'unsafe-inline'",
    "img-src 'self' data:", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; '));
  c.header('Cache-Control', 'no-store');
  return c.html(swaggerPage(specUrl, nonce));
};
