/**
 * A strict parser of Prometheus' text exposition format 0.0.4, for assertions. The npm parser
 * `parse-prometheus-text-format` (1.1.1) was tried first: it folds every labelled series of a
 * histogram into one, so it cannot check per-tenant histograms. This one throws on anything the
 * format does not allow: a sample before its family's `# TYPE`, a family split in two, a bad
 * metric or label name, a bad escape, a value that is not a float, a duplicate series, a
 * histogram series without `le`, or a sample whose name is not its family's.
 */

/** A histogram's buckets are kept in the order of the text (`le` values, as written). */
export interface Sample { labels: Record<string, string>; value?: string; buckets?: { le: string; count: string }[]; count?: string; sum?: string }
export interface MetricFamily { name: string; help: string; type: string; metrics: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** `{a="x",b="y"}` at the start of `s` → labels and the rest of the line. */
function parseLabels(s: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  const fail = () => { throw new Error(`bad labels: ${line}`); };
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    if (eq < 0) fail();
    const name = s.slice(i, eq);
    if (!LABEL.test(name) || name in labels || s[eq + 1] !== '"') fail();
    let v = '';
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const e = s[++j];
        if (e === 'n') v += '\n'; else if (e === '\\' || e === '"') v += e; else fail();
      } else v += s[j];
    }
    if (j >= s.length) fail();
    labels[name] = v;
    i = j + 1;
    if (s[i] === ',') i++; else if (s[i] !== '}') fail();
  }
  return { labels, rest: s.slice(i + 1) };
}

/** The families of an exposition (histograms grouped per label set, `le` taken out). */
export function parsePrometheus(text: string): MetricFamily[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families: MetricFamily[] = [];
  const closed = new Set<string>();
  const seen = new Set<string>();
  let cur = null as MetricFamily | null;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      if (cur?.name !== name) {
        if (closed.has(name)) throw new Error(`family ${name} appears twice`);
        if (cur) closed.add(cur.name);
        cur = { name, help: '', type: '', metrics: [] };
        families.push(cur);
      }
      if (kind === 'HELP') cur.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      else if (!TYPES.has(rest) || cur.type || cur.metrics.length) throw new Error(`bad or late TYPE: ${line}`);
      else cur.type = rest.toUpperCase();
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
    if (!m || !cur || !cur.type) throw new Error(`sample outside a typed family: ${line}`);
    const name = m[1]!;
    const { labels, rest } = m[2]!.startsWith('{') ? parseLabels(m[2]!, line) : { labels: {}, rest: m[2]! };
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2 || !VALUE.test(parts[0]!)) throw new Error(`bad value: ${line}`);
    const value = parts[0]!;
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(series)) throw new Error(`duplicate series: ${line}`);
    seen.add(series);
    if (cur.type !== 'HISTOGRAM') {
      if (name !== cur.name) throw new Error(`sample ${name} in family ${cur.name}`);
      cur.metrics.push({ labels, value });
      continue;
    }
    const suffix = name.slice(cur.name.length);
    if (!name.startsWith(cur.name) || !['_bucket', '_sum', '_count'].includes(suffix)) throw new Error(`sample ${name} in histogram ${cur.name}`);
    const { le, ...own } = labels;
    if (suffix === '_bucket' && le === undefined) throw new Error(`bucket without le: ${line}`);
    const key = JSON.stringify(Object.entries(own).sort());
    let h = cur.metrics.find((s) => JSON.stringify(Object.entries(s.labels).sort()) === key);
    if (!h) { h = { labels: own, buckets: [] }; cur.metrics.push(h); }
    if (suffix === '_bucket') h.buckets!.push({ le: le!, count: value }); else if (suffix === '_sum') h.sum = value; else h.count = value;
  }
  return families;
}

/** The count of bucket `le` of a histogram sample. */
export const bucket = (s: Sample, le: string): number => Number(s.buckets!.find((b) => b.le === le)?.count);

/** The family called `name` (throws when absent). */
export function family(families: MetricFamily[], name: string): MetricFamily {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no metric family ${name}`);
  return f;
}

/** The samples of `f` whose labels include `labels`. */
export const samples = (f: MetricFamily, labels: Record<string, string>): Sample[] =>
  f.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v));

/** The sum of the values of `f`'s samples matching `labels` (0 when none). */
export const valueOf = (f: MetricFamily, labels: Record<string, string>): number =>
  samples(f, labels).reduce((n, m) => n + Number(m.value), 0);
