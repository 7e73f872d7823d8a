/** "Did you mean": the known word nearest to a mistyped one, when one is near enough (pure). */
import { distance } from 'fastest-levenshtein';

/** How far a typo may be from what was meant: one edit for short words, a third of a long one. */
const tolerance = (word: string) => (word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3)));

/** The candidate nearest to `word` within tolerance, else the only one it is a prefix of, else undefined. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestDistance) { best = c; bestDistance = d; }
  }
  if (best !== undefined && bestDistance <= tolerance(w)) return best;
  const extending = candidates.filter((c) => c.toLowerCase().startsWith(w));
  return w.length >= 2 && extending.length === 1 ? extending[0] : undefined;
}

/**
 * The command meant by mistyped words (`tenant craete` → `tenant create`, `tenat` → `tenant`):
 * each word is matched against the words that may follow the ones before it. Answers the typed
 * words it matched and what they meant, or undefined when a word is near nothing.
 */
export function nearestCommand(words: readonly string[], names: readonly string[]): { typed: string; meant: string } | undefined {
  const split = names.map((n) => n.split(' '));
  const meant: string[] = [];
  for (const word of words) {
    const next = [...new Set(split.filter((n) => n.length > meant.length && meant.every((m, i) => n[i] === m)).map((n) => n[meant.length]!))];
    const w = next.includes(word) ? word : nearest(word, next);
    if (w === undefined) return undefined;
    meant.push(w);
    if (names.includes(meant.join(' '))) break;
  }
  const typed = words.slice(0, meant.length).join(' ');
  return meant.length && typed !== meant.join(' ') ? { typed, meant: meant.join(' ') } : undefined;
}
