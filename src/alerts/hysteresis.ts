/**
 * Hysteresis per alert key (pure). Each evaluation gives a verdict: `breach` (past the opening
 * threshold), `clear` (below the lower, resolving threshold) or `hold` (in between, or nothing to
 * judge: warming up, too little traffic). An alert opens after `openAfter` breaches in a row and
 * resolves after `resolveAfter` clears in a row; `hold` keeps both streaks as they are, so a
 * signal hovering at the threshold neither flaps open and shut nor resets its progress.
 */

export type Verdict = 'breach' | 'clear' | 'hold';

export interface Streak { breach: number; clear: number }

export interface Hysteresis { openAfter: number; resolveAfter: number }

export const NO_STREAK: Streak = { breach: 0, clear: 0 };

/** The next streak and what happens to the alert: `open`, `resolve`, `touch` (open and still breaching) or nothing. */
export function step(s: Streak, verdict: Verdict, isOpen: boolean, h: Hysteresis): { streak: Streak; transition: 'open' | 'resolve' | 'touch' | null } {
  if (verdict === 'hold') return { streak: s, transition: null };
  if (verdict === 'breach') {
    const streak = { breach: s.breach + 1, clear: 0 };
    if (isOpen) return { streak, transition: 'touch' };
    return { streak, transition: streak.breach >= h.openAfter ? 'open' : null };
  }
  const streak = { breach: 0, clear: s.clear + 1 };
  if (!isOpen) return { streak: NO_STREAK, transition: null };
  return streak.clear >= h.resolveAfter ? { streak: NO_STREAK, transition: 'resolve' } : { streak, transition: null };
}

/** The verdict of a value against an opening and a (lower) resolving threshold. */
export function verdictOf(value: number | null, openAt: number, clearBelow: number): Verdict {
  if (value === null || !Number.isFinite(value)) return 'hold';
  if (value >= openAt) return 'breach';
  return value < clearBelow ? 'clear' : 'hold';
}
