/**
 * W3C Trace Context (pure): the `traceparent` a request came with, or a new trace when it came
 * without one or with a malformed one. The router is one span of the trace; what it sends on
 * (the response header, the database session) names that span as the parent.
 * https://www.w3.org/TR/trace-context/#traceparent-header
 */
export interface TraceContext {
  traceId: string;
  /** This request's span at the edge. */
  spanId: string;
  /** The caller's span, when the request carried a valid traceparent. */
  parentId: string | null;
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** `bytes` random bytes as lower-case hex (a table lookup per byte: this runs twice per request). */
const hex = (bytes: number, random: (n: number) => Uint8Array) => {
  const r = random(bytes);
  let out = '';
  for (let i = 0; i < r.length; i++) out += HEX[r[i]!];
  return out;
};
const defaultRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/**
 * The trace of a request with header value `header` (null when absent). Version `ff`, all-zero
 * ids and anything not in the grammar start a new trace; a future version's extra fields are
 * ignored, as the specification asks.
 */
export function traceFrom(header: string | null | undefined, random: (n: number) => Uint8Array = defaultRandom): TraceContext {
  const m = header ? TRACEPARENT.exec(header.trim()) : null;
  let spanId = hex(8, random);
  while (spanId === ZERO_SPAN) spanId = hex(8, random);
  if (m && m[1] !== 'ff' && m[2] !== ZERO_TRACE && m[3] !== ZERO_SPAN && (m[1] !== '00' || header!.trim().length === 55)) {
    return { traceId: m[2]!, spanId, parentId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 };
  }
  let traceId = hex(16, random);
  while (traceId === ZERO_TRACE) traceId = hex(16, random);
  return { traceId, spanId, parentId: null, sampled: false };
}

/** The `traceparent` naming this request's span as the parent of what it sends on. */
export const traceparent = (t: TraceContext): string => `00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}`;
