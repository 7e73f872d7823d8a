// The admin dashboard: a hash-routed page over the admin API. Every node is built with the DOM
// (textContent, never innerHTML), so nothing an API returns can become markup or script.
import { api, ApiError, allTenants, readyz, token } from './api.js';
import { barTable, fmt, lineChart } from './charts.js';
import { sampleBetween } from './samples.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signoutBtn = document.getElementById('signout');
let stopLive = null;

/** h('tag', { attrs, onclick }, ...children): a DOM element. */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
/** A labelled control: the label names only the control (not its options). */
const field = (label, control) => h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
const pill = (s) => h('span', { class: `pill s-${s}` }, s);
const card = (title, ...body) => h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), ...body);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
const esc = encodeURIComponent;
function toast(msg) { const t = document.getElementById('toast'); t.textContent = msg; setTimeout(() => { if (t.textContent === msg) t.textContent = ''; }, 6000); }
function errorBox(err) { return h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)); }
/** Renders a view's page, unless another view was routed to since it started (g: its generation). */
let gen = 0;
function setPage(g, title, ...content) {
  if (g !== gen) return;
  document.title = `${title} · tenant-router admin`;
  main.replaceChildren(h('h1', {}, title), ...content);
}
function table(headers, rows, caption) {
  return h('table', {}, caption ? h('caption', { class: 'muted' }, caption) : null,
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col', class: x.num ? 'num' : null }, x.label ?? x)))),
    h('tbody', {}, ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'none'))])));
}
const countBy = (xs, f) => Object.entries(xs.reduce((m, x) => { const k = f(x); m[k] = (m[k] ?? 0) + 1; return m; }, {})).sort((a, b) => b[1] - a[1]);

// ---------------------------------------------------------------------------------------------- sign-in
function signIn(message) {
  nav.hidden = true; signoutBtn.hidden = true;
  const input = h('input', { id: 'token', type: 'password', name: 'token', autocomplete: 'off', required: true, 'aria-describedby': 'token-help signin-error', spellcheck: 'false' });
  const error = h('p', { id: 'signin-error', class: 'error', role: 'alert' }, message ?? '');
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title', onsubmit: async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    error.textContent = '';
    try {
      await api('/tenants?limit=1', { bearer: t });
      token.set(t);
      location.hash = location.hash && location.hash !== '#/signin' ? location.hash : '#/overview';
      route();
    } catch (err) {
      error.textContent = err.status === 401 ? 'Sign-in refused: this token is not valid for the admin API.'
        : err.status === 403 ? 'Sign-in refused: this token lacks the admin:read scope.' : `Sign-in failed: ${err.message}`;
      input.focus();
    }
  } },
  h('h1', { id: 'signin-title' }, 'Sign in'),
  field('Admin token or operator JWT', input),
  h('p', { id: 'token-help', class: 'muted' }, 'Kept in this tab only (sessionStorage) and sent as Authorization: Bearer to this control plane.'),
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'), error);
  document.title = 'Sign in · tenant-router admin';
  main.replaceChildren(form);
  input.focus();
}
signoutBtn.addEventListener('click', () => { token.clear(); location.hash = '#/signin'; signIn(); });
window.addEventListener('unauthenticated', () => { token.clear(); signIn('Your session is no longer valid: sign in again.'); });

// ---------------------------------------------------------------------------------------------- overview
async function overview(g) {
  setPage(g, 'Fleet overview', h('p', { class: 'muted' }, 'Loading…'));
  const [tenants, ready, mig, alerts] = await Promise.all([
    allTenants(), readyz(),
    api('/migrations/status?state=pending&limit=50').then((r) => r.body, (e) => e),
    loadAlerts({ state: 'open', limit: 20 }),
  ]);
  const dist = (title, f) => card(title, table(['value', { label: 'tenants', num: true }], countBy(tenants, f).map(([k, n]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, n)))));
  const checks = ready.body?.checks ?? {};
  const regions = Object.entries(checks.regions ?? {});
  setPage(g, 'Fleet overview',
    h('div', { class: 'card stats' },
      h('div', {}, h('div', { class: 'stat', id: 'stat-tenants' }, tenants.length), h('div', { class: 'muted' }, 'tenants')),
      h('div', {}, h('div', { class: 'stat' }, tenants.filter((t) => t.status === 'suspended').length), h('div', { class: 'muted' }, 'suspended')),
      h('div', {}, h('div', { class: 'stat' }, alerts.available ? alerts.alerts.length : '–'), h('div', { class: 'muted' }, 'open alerts')),
      h('div', {}, h('div', { class: 'stat' }, mig instanceof Error ? '–' : mig.summary.pending), h('div', { class: 'muted' }, 'tenants with pending migrations'))),
    h('div', { class: 'grid' },
      dist('Tenants by tier', (t) => t.tier), dist('Tenants by region', (t) => t.region), dist('Tenants by status', (t) => t.status),
      card('Control plane and regions',
        h('p', {}, 'Readiness: ', pill(ready.body?.status ?? 'down'), ' ', h('span', { class: 'muted' }, `(GET /readyz, ${ready.status || 'no answer'})`)),
        table(['check', 'state'], [
          ...Object.entries(checks).filter(([k]) => k !== 'regions').map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, pill(typeof v === 'string' ? v : JSON.stringify(v))))),
          ...regions.map(([r, v]) => h('tr', {}, h('td', {}, `region ${r}`), h('td', {}, pill(v)))),
        ]),
        h('p', { class: 'muted' }, 'A region marked down is what the routers\' breakers trip on; per-target breaker verdicts are on each tenant page.')),
      card('Migrations in progress', mig instanceof Error ? errorBox(mig) : [
        h('p', {}, `${mig.summary.current} current, ${mig.summary.pending} pending, ${mig.summary.failed} failed of ${mig.summary.total}`),
        table(['tenant', 'applied', 'state'], mig.tenants.map((m) => h('tr', {}, h('td', {}, h('a', { href: `#/tenants/${esc(m.tenantId)}` }, m.slug)), h('td', {}, m.applied ?? '–'), h('td', {}, pill(m.state), m.error ? h('div', { class: 'muted' }, m.error) : null)))),
      ]),
      card('Open alerts', alertsTable(alerts, false))));
}

// ---------------------------------------------------------------------------------------------- tenants
async function tenantList(g) {
  setPage(g, 'Tenants', h('p', { class: 'muted' }, 'Loading…'));
  const tenants = await allTenants();
  const search = h('input', { id: 'tenant-search', type: 'search', placeholder: 'slug, name, id or domain' });
  const status = h('select', { id: 'tenant-status' }, h('option', { value: '' }, 'any'), ...['active', 'suspended', 'provisioning', 'migrating', 'deleting'].map((s) => h('option', { value: s }, s)));
  const tbody = h('tbody', {});
  const count = h('p', { class: 'muted', role: 'status', id: 'tenant-count' });
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = tenants.filter((t) => (!status.value || t.status === status.value)
      && (!q || [t.slug, t.name, t.id, ...t.domains].some((x) => x.toLowerCase().includes(q))));
    tbody.replaceChildren(...shown.map((t) => h('tr', { 'data-slug': t.slug },
      h('td', {}, h('a', { href: `#/tenants/${esc(t.id)}` }, t.slug)), h('td', {}, t.name), h('td', {}, t.tier), h('td', {}, t.region),
      h('td', {}, t.isolation), h('td', {}, pill(t.status)), h('td', {}, t.domains.join(', ') || '–'))));
    count.textContent = `${shown.length} of ${tenants.length} tenants`;
  };
  search.addEventListener('input', render); status.addEventListener('change', render);
  setPage(g, 'Tenants',
    h('div', { class: 'row', role: 'search' }, field('Search tenants', search), field('Status', status)),
    count,
    h('div', { class: 'card' }, h('table', { id: 'tenant-table' },
      h('thead', {}, h('tr', {}, ...['slug', 'name', 'tier', 'region', 'isolation', 'status', 'domains'].map((x) => h('th', { scope: 'col' }, x)))), tbody)));
  render();
}

async function tenantPage(g, id) {
  setPage(g, 'Tenant', h('p', { class: 'muted' }, 'Loading…'));
  const got = await api(`/tenants/${esc(id)}`);
  const t = got.body;
  let etag = got.headers.get('etag');
  const [usage, tiers, auditEntries, domains] = await Promise.all([
    api(`/tenants/${esc(t.id)}/usage`).then((r) => r.body, (e) => e),
    api('/tiers').then((r) => r.body.templates, () => []),
    api(`/audit?tenant=${esc(t.id)}&limit=15`).then((r) => r.body.entries, (e) => e),
    Promise.all(t.domains.map((d) => api(`/tenants/${esc(t.id)}/domains/${esc(d)}`).then((r) => r.body, (e) => ({ hostname: d, status: 'unknown', statusDetail: e.message })))),
  ]);
  const actionMsg = h('p', { role: 'status', id: 'action-status' });
  const suspended = t.status === 'suspended';
  const toggle = h('button', { type: 'button', id: suspended ? 'resume' : 'suspend', class: suspended ? 'primary' : 'danger', onclick: async () => {
    toggle.disabled = true;
    try {
      await api(`/tenants/${esc(t.id)}/${suspended ? 'resume' : 'suspend'}`, { method: 'POST' });
      toast(`${t.slug} ${suspended ? 'resumed' : 'suspended'}`);
      await route();
      document.getElementById(suspended ? 'suspend' : 'resume')?.focus();
    } catch (err) { actionMsg.textContent = `Failed: ${err.message}`; toggle.disabled = false; }
  } }, suspended ? 'Resume tenant' : 'Suspend tenant');
  const tierSel = h('select', { id: 'tier-select' }, ...tiers.map((x) => h('option', { value: x.name, selected: x.name === t.tier }, x.name)));
  const tierBtn = h('button', { type: 'button', id: 'tier-apply', onclick: async () => {
    if (tierSel.value === t.tier) { actionMsg.textContent = `Already on ${t.tier}.`; return; }
    tierBtn.disabled = true;
    try {
      const r = await api(`/tenants/${esc(t.id)}`, { method: 'PATCH', body: { tier: tierSel.value }, headers: etag ? { 'if-match': etag } : {} });
      etag = r.headers.get('etag');
      toast(`${t.slug} is now on ${tierSel.value}`);
      await route();
    } catch (err) {
      actionMsg.textContent = err.code === 'PRECONDITION_FAILED' ? 'Someone changed this tenant meanwhile: reload and try again.' : `Failed: ${err.message}`;
      tierBtn.disabled = false;
    }
  } }, 'Change tier');
  const ov = Object.entries(t.overrides ?? {}).filter(([, v]) => v !== null && v !== undefined);
  const charts = h('div', { class: 'grid', id: 'charts' });
  const windowStats = h('div', { id: 'window-stats' }, h('p', { class: 'muted' }, 'Loading metrics…'));
  const interval = h('select', { id: 'refresh' }, ...[2, 5, 10, 30].map((s) => h('option', { value: s, selected: s === 5 }, `${s} s`)));
  setPage(g, `Tenant ${t.slug}`,
    h('p', {}, pill(t.status), ' ', h('code', {}, t.id)),
    h('section', { class: 'card', 'aria-label': 'Actions' }, h('h2', {}, 'Actions'),
      h('div', { class: 'row' }, toggle, field('Tier', tierSel), tierBtn), actionMsg),
    h('div', { class: 'grid' },
      card('Settings', h('dl', { class: 'kv' }, ...[
        ['name', t.name], ['tier', t.tier], ['region', t.region], ['residency', t.residency ?? '–'], ['isolation', t.isolation],
        ['status detail', t.statusDetail ?? '–'], ['version', t.version], ['JWT issuer', t.jwt?.issuer ?? 'platform tokens only'],
        ['geo', t.geo ? JSON.stringify(t.geo) : '–'], ['proxy', t.proxy ? JSON.stringify(t.proxy) : '–'],
        ['overrides', ov.length ? ov.map(([k, v]) => `${k}=${v}`).join(', ') : 'none'], ['created', when(t.createdAt)], ['updated', when(t.updatedAt)],
      ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]))),
      card('Domains', table(['hostname', 'status', 'detail'], domains.map((d) => h('tr', {}, h('td', {}, d.hostname), h('td', {}, pill(d.status)), h('td', { class: 'muted' }, d.statusDetail ?? ''))))),
      card('Usage this month', usage instanceof Error ? errorBox(usage) : h('dl', { class: 'kv', id: 'usage' }, ...[
        ['month', usage.month], ['requests', `${usage.requests} of ${usage.included ?? '∞'} included`], ['overage', usage.overage],
        ['bandwidth', `${bytes(usage.requestBytes)} in, ${bytes(usage.responseBytes)} out`],
        ['storage', usage.storage ? `${bytes(usage.storage.bytes)} of ${bytes(usage.storage.limitBytes)}${usage.storage.over ? ' (over)' : ''}` : '–'],
        ['invoice preview', `${money(usage.invoice.totalCents)} (base ${money(usage.invoice.baseCents)} + overage ${money(usage.invoice.overageCents)}, ${usage.invoice.tier})`],
      ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])))),
    h('section', { class: 'card', 'aria-label': 'Traffic' }, h('h2', {}, 'Traffic'),
      h('div', { class: 'row' }, field('Sample every', interval),
        h('span', { class: 'muted' }, 'Live: each sample reads GET …/metrics and plots what changed since the previous one (each read is an audited admin call).')),
      windowStats, charts),
    card('Recent audit entries', auditEntries instanceof Error ? errorBox(auditEntries) : auditTable(auditEntries)));
  if (g === gen) stopLive = live(t.id, charts, windowStats, interval);
}

/** Polls the tenant's metrics; returns a stop function. */
function live(id, charts, windowStats, interval) {
  const samples = [];
  let prev = null; let timer = null; let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      const { body: m } = await api(`/tenants/${esc(id)}/metrics?window=60`);
      const now = Date.now();
      if (prev) samples.push(sampleBetween(prev.m, prev.t, m, now));
      if (samples.length > 90) samples.shift();
      prev = { m, t: now };
      if (!stopped) drawMetrics(m, samples, charts, windowStats);
    } catch (err) {
      windowStats.replaceChildren(errorBox(err));
    }
    if (!stopped) timer = setTimeout(tick, Number(interval.value) * 1000);
  };
  interval.addEventListener('change', () => { clearTimeout(timer); tick(); });
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

function drawMetrics(m, samples, charts, windowStats) {
  const cls = m.requests.byClass;
  const errs = (cls['5xx'] ?? 0);
  windowStats.replaceChildren(h('div', { class: 'stats' },
    ...[['requests (60 min)', m.requests.total, 'win-requests'], ['5xx', errs, 'win-5xx'], ['4xx', cls['4xx'] ?? 0, 'win-4xx'],
      ['p50', ms(m.latency.p50)], ['p90', ms(m.latency.p90)], ['p99', ms(m.latency.p99)], ['DB round trips', m.dbRoundTrips]]
      .map(([k, v, id]) => h('div', {}, h('div', { class: 'stat', id }, v), h('div', { class: 'muted' }, k)))));
  const pts = (f) => samples.filter((s) => f(s) !== null).map((s) => ({ t: s.t, v: f(s) }));
  const buckets = m.latency.buckets.map((b, i) => ({ label: `≤ ${b.le === '+Inf' ? '∞' : `${Number(b.le) * 1000} ms`}`, value: b.count - (m.latency.buckets[i - 1]?.count ?? 0) }));
  charts.replaceChildren(
    h('figure', { id: 'chart-rate' }, h('figcaption', {}, 'Request rate (req/s)'), lineChart({ title: 'Request rate', series: [{ name: 'req/s', points: pts((s) => s.rate) }] })),
    h('figure', { id: 'chart-latency' }, h('figcaption', {}, 'Latency of the sampled requests (ms)'), lineChart({ title: 'Latency', unit: ' ms', series: [{ name: 'p50', points: pts((s) => s.p50) }, { name: 'p99', points: pts((s) => s.p99) }] })),
    h('figure', { id: 'chart-errors' }, h('figcaption', {}, 'Error share (% of requests)'), lineChart({ title: 'Errors', unit: '%', series: [{ name: '5xx', points: pts((s) => s.errors5xx) }, { name: '4xx', points: pts((s) => s.errors4xx) }] })),
    h('figure', { id: 'refusals' }, barTable('Refusals by code (60 min)', m.refusals.map((r) => ({ label: `${r.status} ${r.code}`, value: r.count })), h)),
    h('figure', { id: 'histogram' }, barTable('Latency histogram (60 min)', buckets.filter((b) => b.value > 0), h)),
    h('figure', { id: 'breakers' }, barTable('Breaker verdicts (60 min)', m.breaker.map((b) => ({ label: `${b.target}: ${b.state}`, value: b.count })), h)));
}
const ms = (s) => (s === null || s === undefined ? '–' : `${fmt(s * 1000)} ms`);
const money = (c) => `$${(c / 100).toFixed(2)}`;
function bytes(n) { if (n === null || n === undefined) return '–'; const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return `${i ? n.toFixed(1) : n} ${u[i]}`; }

// ---------------------------------------------------------------------------------------------- alerts
/** { available, alerts, nextCursor } or { available: false } when the control plane has no alerts API (404). */
async function loadAlerts(params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)]));
  try {
    const { body } = await api(`/alerts?${q}`);
    return { available: true, alerts: body.alerts, nextCursor: body.nextCursor };
  } catch (err) {
    if (err.status === 404 || err.status === 405) return { available: false, alerts: [] };
    return { available: true, error: err, alerts: [] };
  }
}
function alertsTable(res, actions, reload) {
  if (!res.available) return h('p', { class: 'muted', id: 'alerts-unavailable' }, 'Alerts are not available on this control plane (GET /admin/v1/alerts answered 404).');
  if (res.error) return errorBox(res.error);
  return table(['severity', 'rule', 'scope', 'summary', 'opened', 'state', ...(actions ? ['action'] : [])], res.alerts.map((a) => h('tr', {},
    h('td', {}, pill(a.severity)), h('td', {}, a.rule),
    h('td', {}, a.scope === 'tenant' && a.tenantId ? h('a', { href: `#/tenants/${esc(a.tenantId)}` }, 'tenant') : a.scope === 'region' ? `region ${a.region}` : a.scope),
    h('td', {}, a.summary, a.detail ? h('div', { class: 'muted' }, typeof a.detail === 'string' ? a.detail : JSON.stringify(a.detail)) : null,
      a.remediation ? h('div', { class: 'muted' }, `remediation: ${a.remediation.action} (${a.remediation.state})`) : null),
    h('td', {}, when(a.openedAt), a.resolvedAt ? h('div', { class: 'muted' }, `resolved ${when(a.resolvedAt)}`) : null),
    h('td', {}, pill(a.state)),
    ...(actions ? [h('td', {}, a.state === 'open' ? h('button', { type: 'button', onclick: async (ev) => {
      ev.target.disabled = true;
      try { await api(`/alerts/${esc(a.id)}/acknowledge`, { method: 'POST' }); toast('Alert acknowledged'); reload(); }
      catch (err) { toast(`Failed: ${err.message}`); ev.target.disabled = false; }
    } }, 'Acknowledge') : '')] : []))));
}
async function alertsPage(g) {
  const state = h('select', { id: 'alert-state' }, ...['open', 'resolved', 'all'].map((s) => h('option', { value: s }, s)));
  const tenant = h('input', { id: 'alert-tenant', type: 'search', placeholder: 'tenant id' });
  const out = h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  const load = async () => { out.replaceChildren(alertsTable(await loadAlerts({ state: state.value, tenant: tenant.value.trim(), limit: 100 }), true, load)); };
  state.addEventListener('change', load); tenant.addEventListener('change', load);
  setPage(g, 'Alerts', h('div', { class: 'row' }, field('State', state), field('Tenant', tenant)), out);
  await load();
}

// ---------------------------------------------------------------------------------------------- audit
function auditTable(entries) {
  return table(['seq', 'at', 'actor', 'action', 'tenant', 'status'], entries.map((e) => h('tr', {},
    h('td', { class: 'num' }, e.seq), h('td', {}, when(e.at)), h('td', {}, e.actor), h('td', {}, e.action),
    h('td', {}, e.tenantId ? h('a', { href: `#/tenants/${esc(e.tenantId)}` }, e.tenantId.slice(0, 8)) : '–'), h('td', {}, e.detail?.status ?? ''))));
}
async function auditPage(g) {
  const tenant = h('input', { id: 'audit-tenant', type: 'search', placeholder: 'id or slug' });
  const action = h('input', { id: 'audit-action', type: 'search', placeholder: 'e.g. tenant.suspend' });
  const out = h('div', { class: 'card' });
  const verdict = h('div', { id: 'verify-result', role: 'status' });
  let cursor = null;
  const more = h('button', { type: 'button', id: 'audit-more', hidden: true, onclick: () => load(true) }, 'Older entries');
  const load = async (append = false) => {
    const q = new URLSearchParams({ limit: '50' });
    if (tenant.value.trim()) q.set('tenant', tenant.value.trim());
    if (action.value.trim()) q.set('action', action.value.trim());
    if (append && cursor) q.set('cursor', String(cursor));
    try {
      const { body } = await api(`/audit?${q}`);
      cursor = body.nextCursor; more.hidden = !cursor;
      const tbl = auditTable(body.entries);
      if (append) out.querySelector('tbody').append(...tbl.querySelector('tbody').children); else out.replaceChildren(tbl);
    } catch (err) { out.replaceChildren(errorBox(err)); }
  };
  const verify = h('button', { type: 'button', id: 'audit-verify', class: 'primary', onclick: async () => {
    verify.disabled = true; verdict.textContent = 'Verifying the chain…';
    try {
      const { body: r } = await api('/audit/verify');
      verdict.replaceChildren(r.ok
        ? h('p', {}, pill('ok'), ` Chain intact: ${r.checked} entries checked, head #${r.head?.seq ?? '–'} ${r.head?.hash?.slice(0, 16) ?? ''}…`)
        : h('p', { class: 'error' }, pill('broken'), ` Chain broken at entry #${r.brokenAt}: ${r.reason} (${r.checked} checked)`));
    } catch (err) { verdict.replaceChildren(errorBox(err)); }
    verify.disabled = false;
  } }, 'Verify chain');
  const form = h('form', { class: 'row', role: 'search', onsubmit: (ev) => { ev.preventDefault(); load(); } },
    field('Tenant', tenant), field('Action (or prefix)', action), h('button', { type: 'submit' }, 'Filter'), verify);
  setPage(g, 'Audit log', form, verdict, out, more);
  await load();
}

// ---------------------------------------------------------------------------------------------- routing
async function route() {
  if (stopLive) { stopLive(); stopLive = null; }
  if (!token.get()) return signIn();
  nav.hidden = false; signoutBtn.hidden = false;
  const path = location.hash.replace(/^#/, '') || '/overview';
  for (const a of nav.querySelectorAll('a')) {
    if (path.startsWith(a.getAttribute('href').slice(1))) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const m = /^\/tenants\/([^/]+)$/.exec(path);
  const g = ++gen;
  try {
    if (m) await tenantPage(g, decodeURIComponent(m[1]));
    else if (path === '/tenants') await tenantList(g);
    else if (path === '/alerts') await alertsPage(g);
    else if (path === '/audit') await auditPage(g);
    else await overview(g);
  } catch (err) {
    if (err.status !== 401) setPage(g, 'Error', errorBox(err));
  }
  main.focus({ preventScroll: true });
}
window.addEventListener('hashchange', route);
route();
