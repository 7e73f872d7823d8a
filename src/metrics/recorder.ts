/**
 * The isolate's metrics: every request's point goes to Analytics Engine at once (when bound) and
 * into an in-memory batch; every `flushIntervalMs` a request hands the batch to the aggregator
 * shards in `waitUntil`, bounded by `flushTimeoutMs`, so a flush never delays or fails a request.
 *
 * A shard's part of a flush carries an id (isolate, sequence, shard). A part that failed or timed
 * out is sent again, under the same id, with the next flush (at most MAX_RETRIES parts are kept;
 * older ones are dropped and counted): the aggregator applies an id once, so a part whose answer
 * was lost after it was applied is not counted twice. Workers run no timers between requests: the
 * last batch of an idle isolate waits for its next request (or is lost with the isolate).
 */
import { within } from '../flight/within.js';
import type { MetricsAggregator } from './aggregator.js';
import { analyticsPoint, type AnalyticsSink } from './analytics.js';
import { MetricsBatch, type BatchRow } from './batch.js';
import type { MetricPoint } from './series.js';
import { METRICS_SHARDS, shardName } from './shard.js';

export interface MetricsOptions {
  /** Least time between two flushes of an isolate (default 5000 ms; 0: every request flushes). */
  flushIntervalMs?: number;
  /** Longest one flush may take (default 2000 ms): past it the parts still out are kept for a retry. */
  flushTimeoutMs?: number;
  /** A batch with this many rows is flushed at once (default 500). */
  maxRows?: number;
  now?: () => number;
}

/** The bindings metrics write to; both optional (absent: that sink is skipped). */
export interface MetricsBindings {
  METRICS_AGGREGATOR?: DurableObjectNamespace<MetricsAggregator>;
  ANALYTICS?: AnalyticsSink;
}

interface Part { id: string; shard: number; rows: BatchRow[] }

const MAX_RETRIES = 16;

/** One isolate's recorder (one per router app). */
export class MetricsRecorder {
  private batch = new MetricsBatch();
  private retries: Part[] = [];
  private lastFlush: number;
  private seq = 0;
  // Drawn on the first flush: the recorder is built at module scope, where Workers allow no random values.
  private isolateId: string | null = null;
  private readonly interval: number;
  private readonly timeout: number;
  private readonly maxRows: number;
  private readonly now: () => number;
  /** Parts given up on (retries beyond MAX_RETRIES), and parts sent: for tests and logs. */
  readonly stats = { sent: 0, failed: 0, dropped: 0 };

  constructor(opts: MetricsOptions = {}) {
    this.interval = opts.flushIntervalMs ?? 5_000;
    this.timeout = opts.flushTimeoutMs ?? 2_000;
    this.maxRows = opts.maxRows ?? 500;
    if (!(this.interval >= 0) || !(this.timeout > 0) || !(this.maxRows > 0)) throw new Error('metrics: flushIntervalMs ≥ 0, flushTimeoutMs > 0 and maxRows > 0 are required');
    this.now = opts.now ?? Date.now;
    this.lastFlush = this.now();
  }

  /** Records one request; schedules a flush in `waitUntil` when one is due. Never throws. */
  record(p: MetricPoint, env: MetricsBindings, waitUntil: ((work: Promise<unknown>) => void) | null): void {
    try {
      env.ANALYTICS?.writeDataPoint(analyticsPoint(p));
    } catch { /* best effort: the aggregator still counts it */ }
    const ns = env.METRICS_AGGREGATOR;
    if (!ns || !waitUntil) return;
    const t = this.now();
    this.batch.add(p, t);
    if (t - this.lastFlush < this.interval && this.batch.size < this.maxRows) return;
    this.lastFlush = t;
    waitUntil(this.flush(ns).catch(() => {}));
  }

  /** Sends the batch (and the parts kept for a retry) to the shards; resolves within the timeout. */
  async flush(ns: DurableObjectNamespace<MetricsAggregator>): Promise<void> {
    const seq = ++this.seq;
    const parts: Part[] = [...this.retries];
    this.retries = [];
    for (const [shard, rows] of this.batch.byShard(METRICS_SHARDS)) parts.push({ id: `${this.isolateId ??= crypto.randomUUID()}:${seq}:${shard}`, shard, rows });
    this.batch = new MetricsBatch();
    await Promise.all(parts.map(async (part) => {
      let sent: Promise<boolean>;
      try {
        sent = ns.get(ns.idFromName(shardName(part.shard))).ingest(part.id, part.rows).then(() => true, () => false);
      } catch { sent = Promise.resolve(false); }
      const r = await within(sent, this.timeout);
      if (r.settled && r.value) { this.stats.sent++; return; }
      this.stats.failed++;
      this.retries.push(part);
    }));
    while (this.retries.length > MAX_RETRIES) { this.retries.shift(); this.stats.dropped++; }
  }
}
