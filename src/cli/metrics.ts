/** `metrics` (the Prometheus text, as a scraper sees it) and `tenant metrics <tenant>` (one tenant's counters over a window). */
import { int, type Command } from './command.js';
import { count, keyValues, table } from './format.js';

const scrape: Command = {
  name: 'metrics', arity: [0, 0], summary: "The routers' counters in Prometheus text (what GET /admin/v1/metrics serves a scraper)",
  examples: ['metrics', 'metrics | grep tenant_router_requests_total'],
  async run(ctx) {
    const text = await ctx.client().metrics();
    // The API's bytes as they are: the text a Prometheus scrape would read.
    if (ctx.out.json) ctx.out.result({ text }, () => ''); else process.stdout.write(text);
    return 0;
  },
};

const seconds = (v: number | null) => (v === null ? '-' : `${(v * 1000).toFixed(1)} ms`);

const tenantMetrics: Command = {
  name: 'tenant metrics', args: '<id|slug>', arity: [1, 1], summary: "A tenant's requests, refusals and latency quantiles over the last minutes",
  options: { window: { type: 'string', arg: 'MINUTES', help: 'the window, 1–60 minutes (default 60)' } },
  examples: ['tenant metrics acme', 'tenant metrics acme --window 5 --json'],
  async run(ctx, a) {
    const m = await ctx.client().tenantMetrics(a.positionals[0]!, int(a, 'window', 60));
    ctx.out.result(m, () => [
      ...keyValues([
        ['tenant', `${m.slug} (${m.tenantId})`],
        ['window', `${m.windowMinutes} min, from ${m.from}`],
        ['requests', `${count(m.requests.total)} (${Object.entries(m.requests.byClass).map(([k, v]) => `${k} ${count(v)}`).join(', ') || '-'})`],
        ['latency', `p50 ${seconds(m.latency.p50)}, p90 ${seconds(m.latency.p90)}, p99 ${seconds(m.latency.p99)}`],
        ['guard', Object.entries(m.guard).map(([k, v]) => `${k} ${count(v)}`).join(', ') || '-'],
        ['db round trips', count(m.dbRoundTrips)],
      ]),
      ...(m.refusals.length ? ['', ...table(['STATUS', 'CODE', 'COUNT'], m.refusals.map((r) => [String(r.status), r.code, count(r.count)]))] : []),
    ]);
    return 0;
  },
};

export const metricsCommands: Command[] = [scrape, tenantMetrics];
