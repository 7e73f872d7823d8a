/**
 * Which JWKS URLs the router fetches, pure. Keys fetched over plain HTTP can be swapped by anyone
 * on the path, and a forged key set accepts forged tokens: https only. The one exception is the
 * loopback names, which never leave the machine and which the local stack's test IdPs use.
 */

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export type JwksUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Parses a tenant's JWKS URL and says whether the router may fetch it. */
export function checkJwksUrl(raw: string): JwksUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  // Credentials in the URL would be sent to the IdP on every fetch and end up in logs.
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL' };
  if (url.protocol === 'https:') return { ok: true, url };
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return { ok: true, url };
  return { ok: false, reason: url.protocol === 'http:' ? 'plain http outside loopback' : `scheme ${url.protocol}` };
}
