/**
 * Bounded waiting on work that another request started.
 *
 * An isolate shares some work among concurrent requests (one tenant lookup per key, one lease
 * call per tenant, one JWKS download per issuer). On Workers a request may be cancelled at any
 * await when its client hangs up, and the I/O it started is cancelled with it: a promise that
 * other requests were waiting on then never settles, and they would hang until the runtime
 * answers them with a bare 500 ("the script will never generate a response"). So a request never
 * waits on another request's work without a timer of its own: when the timer fires first, it
 * goes on without that work (does it itself, or fails as if the call had timed out).
 */

/** What `within` saw: the work's value, or that the time ran out first. */
export type Waited<T> = { settled: true; value: T } | { settled: false };

const defaultSleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

/**
 * Waits for `work` at most `ms` (Infinity: without a timer). A rejection of `work` is thrown; `work` keeps running when the
 * time runs out. `sleep` is injectable for simulations (it must resolve by `ms` or on `signal`).
 */
export async function within<T>(work: Promise<T>, ms: number, sleep: (ms: number, signal: AbortSignal) => Promise<void> = defaultSleep): Promise<Waited<T>> {
  if (!(ms > 0)) {
    // Not waited for: its rejection, if any, is nobody's to handle.
    work.then(undefined, () => {});
    return { settled: false };
  }
  if (ms === Infinity) return { settled: true, value: await work };
  const stop = new AbortController();
  const timedOut = Symbol('timed out');
  try {
    const r = await Promise.race([work, sleep(ms, stop.signal).then(() => timedOut)]);
    return r === timedOut ? { settled: false } : { settled: true, value: r as T };
  } finally {
    stop.abort();
  }
}
