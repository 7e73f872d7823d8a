/**
 * The benchmark's figures: latencies in an HDR histogram in microseconds (hdr-histogram-js, which
 * autocannon itself uses, 3 significant digits), and the median with min–max over interleaved
 * rounds (A B A B …), so that a slow moment of this shared 2-core machine hits both sides alike.
 */
import hdr from 'hdr-histogram-js';

export type Histogram = ReturnType<typeof hdr.build>;

/** A histogram of microseconds, 1 µs to 60 s. */
export const histogram = (): Histogram => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

/** Records a duration given in milliseconds (fractional, as autocannon and performance.now give it). */
export const recordMs = (h: Histogram, ms: number) => h.recordValue(Math.max(1, Math.round(ms * 1000)));

export interface Spread { median: number; min: number; max: number }

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s.at(-1)! };
}

/** `a - b` per round (paired), then their spread: what pairing the rounds is for. */
export const pairedDiff = (a: number[], b: number[]): Spread => spread(a.map((x, i) => x - b[i]!));
export const pairedRatio = (a: number[], b: number[]): Spread => spread(a.map((x, i) => x / b[i]!));

/** "1234 (1200–1250)" with `d` decimals. */
export const fmt = (s: Spread, d = 0, unit = '') => `${s.median.toFixed(d)}${unit} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
