/**
 * The only code that reads `request.cf` and the edge's client-IP header. Everything else gets
 * country, client IP and time from here, so tests need no casts and no monkey-patched clock.
 */
export interface RuntimeInfo {
  /** ISO 3166 alpha-2 country of the client, or null when the edge does not know it. */
  country: string | null;
  /** The client address as Cloudflare saw it, or null. */
  clientIp: string | null;
  colo: string | null;
  now: number;
}

/** Reads runtime facts of `req`. On Cloudflare, `CF-Connecting-IP` is set by the edge itself. */
export function readRuntime(req: Request, now: () => number = Date.now): RuntimeInfo {
  const cf = (req as Request & { cf?: { country?: unknown; colo?: unknown } }).cf;
  const country = typeof cf?.country === 'string' && /^[A-Z]{2}$/.test(cf.country) ? cf.country : null;
  const colo = typeof cf?.colo === 'string' ? cf.colo : null;
  return { country, clientIp: req.headers.get('cf-connecting-ip'), colo, now: now() };
}
