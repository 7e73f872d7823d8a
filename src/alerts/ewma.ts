/**
 * Exponentially weighted baselines and z-scores (pure). A baseline is the EWMA of a signal and
 * its exponentially weighted variance (West's incremental form), so one number per signal and
 * tenant is all that is kept between runs. A z-score is measured against a floored standard
 * deviation: a perfectly steady signal (variance 0) must not make every small wobble infinite.
 */

export interface Baseline { mean: number; variance: number; samples: number }

/** A baseline that has seen nothing. */
export const EMPTY_BASELINE: Baseline = { mean: 0, variance: 0, samples: 0 };

/** Weight of the newest sample: 0.1 remembers about the last 20 samples (minutes at one run a minute). */
export const ALPHA = 0.1;

/** Samples a baseline needs before it judges anything (warm-up). */
export const WARMUP_SAMPLES = 10;

/** `b` with sample `x` folded in; the first sample is taken as the mean. */
export function updateBaseline(b: Baseline, x: number, alpha = ALPHA): Baseline {
  if (!Number.isFinite(x)) return b;
  if (b.samples === 0) return { mean: x, variance: 0, samples: 1 };
  const diff = x - b.mean;
  const incr = alpha * diff;
  return { mean: b.mean + incr, variance: (1 - alpha) * (b.variance + diff * incr), samples: b.samples + 1 };
}

/** How many floored standard deviations `x` lies above the baseline's mean (one-sided: below is 0 or negative). */
export function zScore(b: Baseline, x: number, sdFloor: number): number {
  const sd = Math.max(Math.sqrt(Math.max(0, b.variance)), sdFloor);
  return sd > 0 ? (x - b.mean) / sd : 0;
}

/** True once the baseline has seen `WARMUP_SAMPLES` samples. */
export const warmedUp = (b: Baseline, warmup = WARMUP_SAMPLES): boolean => b.samples >= warmup;
