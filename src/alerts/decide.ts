/**
 * From one run's findings to alert transitions (pure): each finding steps its key's streak
 * (hysteresis.ts) against whether an alert is unresolved for that key. An unresolved alert whose
 * rule was evaluated this run but got no finding (its tenant sent nothing, its quota share fell
 * out of the query) counts as clear; when its rule was not evaluated (a shard did not answer, the
 * audit chain was not due) it holds. Findings of one key after the first are ignored (dedup).
 */
import { NO_STREAK, step, type Streak, type Verdict } from './hysteresis.js';
import { keyOf, RULES, type Finding, type RuleName } from './rules.js';

export interface Decisions<A extends { id: string }> {
  opens: Finding[];
  resolves: A[];
  touches: string[];
  streaks: { dedup_key: string; breach: number; clear: number }[];
  dropStreaks: string[];
}

const ruleOfKey = (key: string) => key.slice(0, key.indexOf('|')) as RuleName;

/** The transitions of `findings` given the stored streaks and the unresolved alerts by key. */
export function decide<A extends { id: string; rule: string }>(findings: Finding[], streaks: Map<string, Streak>, unresolved: Map<string, A>, evaluated: ReadonlySet<RuleName>): Decisions<A> {
  const d: Decisions<A> = { opens: [], resolves: [], touches: [], streaks: [], dropStreaks: [] };
  const seen = new Set<string>();
  const apply = (key: string, rule: RuleName, verdict: Verdict, f: Finding | null) => {
    const prev = streaks.get(key) ?? NO_STREAK;
    const alert = unresolved.get(key);
    const { streak, transition } = step(prev, verdict, alert !== undefined, RULES[rule]);
    if (transition === 'open' && f) d.opens.push(f);
    else if (transition === 'resolve' && alert) d.resolves.push(alert);
    else if (transition === 'touch' && alert) d.touches.push(alert.id);
    if (streak.breach === 0 && streak.clear === 0) { if (streaks.has(key)) d.dropStreaks.push(key); }
    else if (streak.breach !== prev.breach || streak.clear !== prev.clear) d.streaks.push({ dedup_key: key, ...streak });
  };
  for (const f of findings) {
    const key = keyOf(f);
    if (seen.has(key)) continue;
    seen.add(key);
    apply(key, f.rule, f.verdict, f);
  }
  for (const [key, a] of unresolved) {
    if (!seen.has(key) && evaluated.has(a.rule as RuleName) && a.rule in RULES) { seen.add(key); apply(key, a.rule as RuleName, 'clear', null); }
  }
  // A breach streak that got no finding this run is broken (the breaches were not in a row).
  for (const key of streaks.keys()) if (!seen.has(key) && !unresolved.has(key) && evaluated.has(ruleOfKey(key))) d.dropStreaks.push(key);
  return d;
}
