/** Bandwidth metering, pure: cumulative byte reports applied exactly once, flushed with the units. */
import { describe, expect, it } from 'vitest';
import { ack, addBytes, applyReport, newCounter, pendingReport } from '../../src/quota/byte-meter.js';
import { applyReport as applyHolderReport, freshState, GRANT_MEMORY_MS, METER_MEMORY_MS, meterBytes, prune } from '../../src/quota/guard-state.js';
import { dirtyMonths, markFlushed } from '../../src/quota/guard-flush.js';
import type { GuardLimits } from '../../src/quota/guard-types.js';
import { bodyLength, utf8Length } from '../../src/bandwidth/sized-bodies.js';
import { Hono } from 'hono';
import { meterBandwidth } from '../../src/middleware/meter-bandwidth.js';

const T0 = Date.UTC(2026, 4, 10, 12);
const limits: GuardLimits = { ratePerMinute: 600, burst: 100, monthlyRequests: 1_000, hardCap: false, concurrency: 10 };
const bytesOf = (s: ReturnType<typeof freshState>) => {
  const u = s.usage['2026-05'];
  return [u?.reqBytes ?? 0, u?.resBytes ?? 0];
};

describe('byte meter', () => {
  it('adds only what lies beyond the mark: a replay, a late older report and a retry add nothing twice', () => {
    const first = applyReport(undefined, { from: { request: 0, response: 0 }, to: { request: 100, response: 400 } });
    expect(first.delta).toEqual({ request: 100, response: 400 });
    expect(applyReport(first.mark, { from: { request: 0, response: 0 }, to: { request: 100, response: 400 } }).delta).toEqual({ request: 0, response: 0 });
    // The answer to the first was lost: the next call carries the same base with more on top.
    const next = applyReport(first.mark, { from: { request: 0, response: 0 }, to: { request: 150, response: 400 } });
    expect(next.delta).toEqual({ request: 50, response: 0 });
    // An older report arriving after the newer one.
    expect(applyReport(next.mark, { from: { request: 0, response: 0 }, to: { request: 120, response: 300 } })).toEqual({ delta: { request: 0, response: 0 }, mark: next.mark });
    // A meter the object has forgotten: what the isolate has not seen acknowledged.
    expect(applyReport(undefined, { from: { request: 150, response: 400 }, to: { request: 170, response: 410 } }).delta).toEqual({ request: 20, response: 10 });
  });

  it('keeps counting until a call carrying the bytes is answered', () => {
    const c = newCounter();
    addBytes(c, { request: 10, response: 20.7 });
    addBytes(c, { request: -5, response: Number.NaN });
    const lost = pendingReport(c)!;
    expect(lost).toEqual({ from: { request: 0, response: 0 }, to: { request: 10, response: 20 } });
    addBytes(c, { response: 5 });
    const again = pendingReport(c)!;
    expect(again).toEqual({ from: { request: 0, response: 0 }, to: { request: 10, response: 25 } });
    ack(c, again);
    expect(pendingReport(c)).toBeUndefined();
    // A late acknowledgement of an older call never moves the mark back.
    ack(c, lost);
    expect(c.acked).toEqual({ request: 10, response: 25 });
  });
});

describe('bytes in the guard state', () => {
  it('applies a holder report once, even when the isolate sends it again, and flushes bytes with the units', () => {
    const s = freshState('s');
    const report = { tenantId: 't', holderId: 'h1', inflight: 0, limits, meter: { from: { request: 0, response: 0 }, to: { request: 300, response: 1_200 } } };
    applyHolderReport(s, report, T0);
    applyHolderReport(s, report, T0 + 10);
    // From a call given up on (late): idempotent, so applied all the same.
    applyHolderReport(s, { ...report, meter: { from: { request: 0, response: 0 }, to: { request: 310, response: 1_200 } } }, T0 + 20, true);
    expect(bytesOf(s)).toEqual([310, 1_200]);
    expect(dirtyMonths(s)).toEqual([['2026-05', 0, 310, 1_200]]);
    markFlushed(s, dirtyMonths(s), '2026-05');
    expect(dirtyMonths(s)).toEqual([]);
    meterBytes(s, 'meter:x', { from: { request: 0, response: 0 }, to: { request: 0, response: 7 } }, T0 + 30);
    expect(dirtyMonths(s)).toEqual([['2026-05', 0, 310, 1_207]]);
  });

  it('keeps a meter far past the grant memory (a late replay adds nothing), forgets it after a day, and reads states stored before bandwidth existed', () => {
    const s = freshState('s');
    const r = { from: { request: 0, response: 0 }, to: { request: 5, response: 5 } };
    meterBytes(s, 'm', r, T0);
    prune(s, T0 + GRANT_MEMORY_MS);
    expect(Object.keys(s.meters!)).toEqual(['m']);
    // The same report again after the grant memory: its mark is still there, nothing is added twice.
    meterBytes(s, 'm', r, T0 + GRANT_MEMORY_MS + 1);
    expect(dirtyMonths(s)[0]!.slice(2)).toEqual([5, 5]);
    prune(s, T0 + GRANT_MEMORY_MS + 1 + METER_MEMORY_MS);
    expect(s.meters).toEqual({});
    const old = { ...freshState('legacy'), usage: { '2026-05': { admitted: 4, flushed: 4 } } } as ReturnType<typeof freshState>;
    delete old.meters;
    expect(dirtyMonths(old)).toEqual([]);
    meterBytes(old, 'm', { from: { request: 0, response: 0 }, to: { request: 1, response: 2 } }, T0);
    expect(dirtyMonths(old)).toEqual([['2026-05', 4, 1, 2]]);
  });
});

describe('sized bodies', () => {
  it('counts a string in UTF-8 bytes exactly as the runtime encodes it (pairs, lone surrogates as U+FFFD), and bytes as they are', () => {
    const enc = new TextEncoder();
    for (const s of ['', 'ascii only {"a":1}', 'Ünïcødé', '€ ✓ “q”', '🎵🎶 pairs', 'lone \ud800 high', 'lone \udc00 low', 'end \ud83c', '\ud83c\ud83c\udfb5', 'x'.repeat(5000) + 'é']) {
      expect(utf8Length(s), JSON.stringify(s)).toBe(enc.encode(s).byteLength);
    }
    expect(bodyLength(new Uint8Array(7))).toBe(7);
    expect(bodyLength(new ArrayBuffer(3))).toBe(3);
    expect(bodyLength(new ReadableStream())).toBeUndefined();
    expect(bodyLength(null)).toBeUndefined();
  });
});

describe('meterBandwidth', () => {
  /** An app behind meterBandwidth whose limiter records each report as it is made. */
  function metered(route: (app: Hono<any>) => void) {
    const reports: { request: number; response: number }[] = [];
    const app = new Hono<any>();
    app.use(async (c, next) => {
      c.set('services', { limiter: { meter: (_t: unknown, b: { request: number; response: number }) => { reports.push(b); return null; } } });
      c.set('tenant', { id: 't' });
      await next();
    });
    app.use(meterBandwidth());
    route(app);
    return { app, reports };
  }

  it('reports a body made by c.json, c.text or c.body when the answer is made, not when it has streamed out', async () => {
    const { app, reports } = metered((a) => a
      .get('/json', (c) => c.json({ title: 'Ünïcødé 🎵' }, 201, { 'X-A': '1' }))
      .get('/text', (c) => c.text('€ ✓'))
      .get('/bytes', (c) => c.body(new Uint8Array(5))));
    for (const [path, bytes] of [['/json', utf8Length('{"title":"Ünïcødé 🎵"}')], ['/text', 7], ['/bytes', 5]] as const) {
      const res = await app.request(path);
      // Reported before a byte of the body was read: no counting stream in between.
      expect(reports.pop(), path).toEqual({ request: 0, response: bytes });
      expect((await res.arrayBuffer()).byteLength).toBe(bytes);
    }
    const json = await app.request('/json');
    expect(json.status).toBe(201);
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(json.headers.get('x-a')).toBe('1');
    expect(await json.json()).toEqual({ title: 'Ünïcødé 🎵' });
  });

  it('counts any other body as it streams out, and reports it at the end', async () => {
    const { app, reports } = metered((a) => a.get('/stream', () => new Response(new Blob(['abc', 'de']).stream())));
    const res = await app.request('/stream');
    expect(reports).toEqual([]);
    expect(await res.text()).toBe('abcde');
    expect(reports).toEqual([{ request: 0, response: 5 }]);
  });
});
