/**
 * Refused admin calls (no or bad credentials), summarised, pure. Anyone can send those, so each
 * one writing its own audit entry (under the log's global lock, with an attacker-chosen path)
 * let an anonymous flood grow the log without bound and queue admin writes behind it. Instead an
 * isolate writes at most one `admin.refused` entry per window: counts by reason and a few sample
 * client addresses, never paths. The first refusal after a quiet window is written at once; the
 * rest of a window waits for the next refusal or request after it (or the Cron run). Counts held
 * by an isolate that dies are lost: at most one window's worth, and the routers' and Cloudflare's
 * own logs still have the requests.
 */

export interface RefusalSummaryEntry {
  since: string;
  until: string;
  total: number;
  byReason: Record<string, number>;
  sampleClients: string[];
}

const MAX_SAMPLES = 5;
const MAX_REASONS = 10;

/** Per-isolate aggregation of refused calls into at most one summary per window. */
export class RefusalSummary {
  private pending: { since: number; total: number; byReason: Map<string, number>; clients: Set<string> } | null = null;
  private nextWriteAt = 0;

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  /** Counts one refusal; returns the summary to write now, or null while the window holds it. */
  note(reason: string, client: string | null): RefusalSummaryEntry | null {
    const p = this.pending ??= { since: this.now(), total: 0, byReason: new Map(), clients: new Set() };
    p.total++;
    // Reasons are our error codes; the cap only guards against a future caller passing free text.
    const key = p.byReason.has(reason) || p.byReason.size < MAX_REASONS ? reason : 'OTHER';
    p.byReason.set(key, (p.byReason.get(key) ?? 0) + 1);
    if (client && p.clients.size < MAX_SAMPLES) p.clients.add(client.slice(0, 45));
    return this.due();
  }

  /** The held summary once the window has passed (it starts a new window), else null. */
  due(): RefusalSummaryEntry | null {
    const p = this.pending;
    const now = this.now();
    if (!p || now < this.nextWriteAt) return null;
    this.pending = null;
    this.nextWriteAt = now + this.windowMs;
    return {
      since: new Date(p.since).toISOString(), until: new Date(now).toISOString(), total: p.total,
      byReason: Object.fromEntries(p.byReason), sampleClients: [...p.clients],
    };
  }

  /** Puts back a summary whose write failed, to go out with the next one. */
  restore(e: RefusalSummaryEntry): void {
    const p = this.pending ??= { since: Date.parse(e.since), total: 0, byReason: new Map(), clients: new Set() };
    p.since = Math.min(p.since, Date.parse(e.since));
    p.total += e.total;
    for (const [k, n] of Object.entries(e.byReason)) p.byReason.set(k, (p.byReason.get(k) ?? 0) + n);
    for (const c of e.sampleClients) if (p.clients.size < MAX_SAMPLES) p.clients.add(c);
  }
}
