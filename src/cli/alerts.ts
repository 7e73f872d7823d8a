/** `alert list|show|ack|remediate`: the scheduled alert rules' alerts (docs/alerts.md). */
import { int, str, type Command } from './command.js';
import { keyValues, table } from './format.js';
import type { AlertView } from './client.js';

const STATES = ['open', 'acknowledged', 'resolved', 'all'] as const;
const ACTIONS = ['suspend', 'tighten_rate'] as const;
const scopeOf = (a: AlertView) => (a.scope === 'tenant' ? `tenant ${a.tenantId}${a.region ? ` (${a.region})` : ''}` : a.scope === 'region' ? `region ${a.region}` : 'platform');
const remediationOf = (a: AlertView) => (a.remediation ? `${a.remediation.action} (${a.remediation.state})` : '-');

function show(a: AlertView): string[] {
  return keyValues([
    ['id', a.id], ['rule', a.rule], ['scope', scopeOf(a)], ['severity', a.severity], ['state', a.state],
    ['opened', a.openedAt], ['last seen', `${a.lastSeenAt} (${a.occurrences} evaluations)`], ['resolved', a.resolvedAt ?? '-'],
    ['acknowledged', a.acknowledgedAt ? `${a.acknowledgedAt} by ${a.acknowledgedBy}` : '-'], ['summary', a.summary], ['remediation', remediationOf(a)],
  ]);
}

const list: Command = {
  name: 'alert list', arity: [0, 0], summary: 'Alerts, newest first',
  options: {
    state: { type: 'string', arg: 'S', choices: STATES, help: 'open, acknowledged, resolved or all (default all)' },
    tenant: { type: 'string', arg: 'T', help: 'tenant id or slug' },
    limit: { type: 'string', arg: 'N', help: 'how many, 1-200 (default 50)' },
  },
  examples: ['alert list --state open', 'alert list --tenant acme --json'],
  async run(ctx, a) {
    const r = await ctx.client().listAlerts({ state: str(a, 'state', list.options!.state), tenant: str(a, 'tenant'), limit: int(a, 'limit', 200) });
    ctx.out.result(r, () => table(['ID', 'SEVERITY', 'RULE', 'SCOPE', 'STATE', 'OPENED', 'SUMMARY'],
      r.alerts.map((x) => [x.id, x.severity, x.rule, scopeOf(x), x.state, x.openedAt, x.summary.slice(0, 100)])));
    return 0;
  },
};

const showCmd: Command = {
  name: 'alert show', args: '<id>', arity: [1, 1], summary: 'One alert, with its detail and suggested remediation',
  examples: ['alert show 6c2b1a0e-4f1d-4a47-9a53-2f0d8c7b9e11'],
  async run(ctx, a) {
    const r = await ctx.client().getAlert(a.positionals[0]!);
    ctx.out.result(r, () => [...show(r), '', JSON.stringify(r.detail, null, 2)]);
    return 0;
  },
};

const ack: Command = {
  name: 'alert ack', args: '<id>', arity: [1, 1], summary: 'Acknowledge an open alert (it still resolves on its own)',
  examples: ['alert ack 6c2b1a0e-4f1d-4a47-9a53-2f0d8c7b9e11'],
  async run(ctx, a) {
    const r = await ctx.client().acknowledgeAlert(a.positionals[0]!);
    ctx.out.result(r, () => show(r));
    return 0;
  },
};

const remediate: Command = {
  name: 'alert remediate', args: '<id>', arity: [1, 1], summary: "Apply the alert's suggested remediation; --action repeats it as the confirmation",
  options: { action: { type: 'string', arg: 'A', choices: ACTIONS, required: true, help: 'suspend or tighten_rate: the suggested action' } },
  examples: ['alert remediate 6c2b1a0e-4f1d-4a47-9a53-2f0d8c7b9e11 --action tighten_rate'],
  async run(ctx, a) {
    const r = await ctx.client().remediateAlert(a.positionals[0]!, str(a, 'action', remediate.options!.action)!);
    ctx.out.result(r, () => [...show(r.alert), ...keyValues([['tenant', `${r.tenant.slug} (${r.tenant.id}), ${r.tenant.status}, version ${r.tenant.version}`]])]);
    return 0;
  },
};

export const alertCommands: Command[] = [list, showCmd, ack, remediate];
