/**
 * A byte stream passed through and counted, pure: bandwidth metering of bodies whose length is
 * not declared (a chunked request, a response without Content-Length). A JS stream in between
 * keeps backpressure (nothing is buffered beyond what the reader asks for); the runtime then
 * sends such a response without Content-Length (chunked on HTTP/1.1).
 */

export interface CountingOptions {
  /** More bytes than this errors the stream with `tooLarge()` (request bodies over the tier's limit). */
  limit?: number;
  tooLarge?: () => unknown;
  /** Called once: when the stream ends, is cancelled (client gone) or errors, with the bytes passed so far. */
  onEnd?: (bytes: number) => void;
}

/** `source`, counted; `bytes()` is the count so far. */
export function countingStream(source: ReadableStream<Uint8Array>, opts: CountingOptions = {}): { stream: ReadableStream<Uint8Array>; bytes: () => number } {
  const reader = source.getReader();
  let n = 0;
  let ended = false;
  // The report is the caller's business: its failure never breaks the stream.
  const end = () => { if (!ended) { ended = true; try { opts.onEnd?.(n); } catch { /* reported nowhere */ } } };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        end();
        controller.error(err);
        return;
      }
      if (chunk.done) { end(); controller.close(); return; }
      const size = chunk.value.byteLength;
      if (opts.limit !== undefined && n + size > opts.limit) {
        const err = opts.tooLarge?.() ?? new Error('stream over its limit');
        n += Math.max(0, opts.limit - n);
        end();
        controller.error(err);
        reader.cancel(err).catch(() => {});
        return;
      }
      n += size;
      controller.enqueue(chunk.value);
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason).catch(() => {});
    },
  });
  return { stream, bytes: () => n };
}

/** A Content-Length header's byte count, or null when absent or not a plain non-negative integer. */
export function declaredLength(value: string | null): number | null {
  if (value === null || !/^\d{1,15}$/.test(value.trim())) return null;
  return Number(value.trim());
}
