/**
 * Bandwidth metering, pure: body bytes of admitted requests and of their responses, counted in the
 * isolate and delivered to the tenant's TenantGuard with its other calls.
 *
 * Delivery is exact without remembering calls: each meter (one per isolate lane) sends its
 * cumulative totals, `to`, and what the object last acknowledged, `from`. The object keeps, per
 * meter, the highest totals it has applied and adds only what lies beyond them (or beyond `from`
 * when it has forgotten the meter): a call that is retried after its answer was lost, replayed
 * or overtaken by a newer one adds nothing twice, and a call that never arrived is covered by the
 * next one, which carries the same totals again.
 */

export interface Bytes { request: number; response: number }

/** What a call carries: this meter's totals, and the part the object has acknowledged. */
export interface MeterReport { from: Bytes; to: Bytes }

/** The isolate's side of one meter. */
export interface ByteCounter { total: Bytes; acked: Bytes }

/** The object's side: the highest totals applied per meter, and when it last reported. */
export interface MeterMark extends Bytes { at: number }

export const ZERO: Bytes = Object.freeze({ request: 0, response: 0 });

/** A counter with nothing counted. */
export const newCounter = (): ByteCounter => ({ total: { ...ZERO }, acked: { ...ZERO } });

const whole = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/** Counts `b` more bytes. */
export function addBytes(c: ByteCounter, b: Partial<Bytes>): void {
  c.total.request += whole(b.request ?? 0);
  c.total.response += whole(b.response ?? 0);
}

/** Whether bytes are counted that the object has not acknowledged. */
export const unacked = (c: ByteCounter): boolean => c.total.request > c.acked.request || c.total.response > c.acked.response;

/** The report the next call carries, or undefined when everything is acknowledged. */
export function pendingReport(c: ByteCounter): MeterReport | undefined {
  return unacked(c) ? { from: { ...c.acked }, to: { ...c.total } } : undefined;
}

/** Records that the object applied `r` (its call was answered). */
export function ack(c: ByteCounter, r: MeterReport | undefined): void {
  if (!r) return;
  c.acked = { request: Math.max(c.acked.request, r.to.request), response: Math.max(c.acked.response, r.to.response) };
}

/** What the object adds for report `r` given the meter's mark (undefined: forgotten or new), and the new mark. */
export function applyReport(mark: Bytes | undefined, r: MeterReport): { delta: Bytes; mark: Bytes } {
  const one = (k: keyof Bytes) => {
    const to = whole(r.to[k]);
    const base = Math.max(whole(r.from[k]), mark ? mark[k] : 0);
    return { delta: Math.max(0, to - base), mark: Math.max(mark ? mark[k] : 0, to) };
  };
  const q = one('request');
  const s = one('response');
  return { delta: { request: q.delta, response: s.delta }, mark: { request: q.mark, response: s.mark } };
}
