/**
 * Response bodies whose byte count is known when they are made, so that bandwidth metering needs
 * no counting stream for them. A body given to Hono as a string or bytes (`c.json`, `c.text`,
 * `c.body`) has a length the runtime knows too, but a `Response` does not say it
 * (`Content-Length` is absent from its headers until it is sent); wrapping every such body in a
 * JS stream only to count it cost a measured 9% of the router's CPU. `sizeBodies(c)` makes this
 * request's three methods note the UTF-8 byte length of what they are given, keyed by the
 * `Response` they return; anything else (a stream, a `Response` made elsewhere, one rebuilt
 * later) has no noted length and is counted as before.
 */
import type { Context } from 'hono';

const lengths = new WeakMap<Response, number>();

/** The byte length `res`'s body was made with, when a sized context method made it. */
export const knownLength = (res: Response): number | undefined => lengths.get(res);

/** Bytes of `s` in UTF-8, as the runtime encodes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) { n += 1; continue; }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      // A pair: 2 UTF-16 units, 4 bytes.
      if (d >= 0xdc00 && d <= 0xdfff) { n += 2; i++; continue; }
    }
    n += 2;
  }
  return n;
}

/** The byte length of a body as Hono's context methods take it, or undefined when it is not known up front. */
export function bodyLength(data: unknown): number | undefined {
  if (typeof data === 'string') return utf8Length(data);
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  return undefined;
}

function note(res: Response, length: number | undefined): Response {
  if (length !== undefined && res instanceof Response) lengths.set(res, length);
  return res;
}

type Method = (...args: any[]) => any;

/** Makes `c.json`, `c.text` and `c.body` of this request note their bodies' byte lengths (same answers otherwise). */
export function sizeBodies(c: Context): void {
  const body = c.body as Method;
  const text = c.text as Method;
  c.body = ((data: unknown, ...rest: unknown[]) => note(body(data, ...rest), bodyLength(data))) as typeof c.body;
  c.text = ((data: unknown, ...rest: unknown[]) => note(text(data, ...rest), bodyLength(data))) as typeof c.text;
  // What Hono's own json() does (the text, through body, with a default Content-Type), so the text is made once.
  c.json = ((object: unknown, arg?: unknown, headers?: Record<string, string | string[]>) => {
    const data = JSON.stringify(object);
    return note(body(data, arg, { 'Content-Type': 'application/json', ...headers }), bodyLength(data));
  }) as typeof c.json;
}
