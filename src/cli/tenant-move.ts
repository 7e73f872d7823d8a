/** `tenant move|moves`: move a tenant's data to another isolation or region, online (src/moves/). */
import { str, UsageError, type Command } from './command.js';
import { keyValues, table } from './format.js';

const move: Command = {
  name: 'tenant move', args: '<id|slug>', arity: [1, 1],
  summary: "Move a tenant's data to another isolation (row, schema, database) or region, online",
  details: 'Reads are served throughout; writes answer 503 TENANT_MIGRATING for the final copy (the fence, reported in ms). '
    + 'The copy is verified (row count and digest per table) before the switch; any failure before it rolls back.',
  options: {
    isolation: { type: 'string', arg: 'I', choices: ['row', 'schema', 'database'], help: 'the isolation to move to' },
    region: { type: 'string', arg: 'R', help: 'the region to move to (must satisfy the residency)' },
  },
  examples: ['tenant move acme --isolation schema', 'tenant move acme --region aws-eu-central-1'],
  async run(ctx, a) {
    const isolation = str(a, 'isolation');
    const region = str(a, 'region');
    if (!isolation && !region) throw new UsageError('give --isolation, --region or both');
    const r = await ctx.client().moveTenant(a.positionals[0]!, { isolation, region });
    ctx.out.result(r, () => keyValues([
      ['moved', `${r.from.isolation} in ${r.from.region} → ${r.to.isolation} in ${r.to.region}`],
      ['copied', Object.entries(r.copied).map(([t, n]) => `${t} ${n}`).join(', ') || 'nothing'],
      ['tail', Object.entries(r.tail).map(([t, x]) => `${t} +${x.inserted} ~${x.replaced} -${x.deleted}`).join(', ') || 'nothing'],
      ['writes paused', `${r.fenceMs} ms`], ['version', r.version], ['source', r.cleaned ? 'cleaned' : 'left for the maintenance run'],
    ]));
    return 0;
  },
};

const moves: Command = {
  name: 'tenant moves', args: '<id|slug>', arity: [1, 1], summary: "The tenant's moves, newest first",
  examples: ['tenant moves acme'],
  async run(ctx, a) {
    const r = await ctx.client().listMoves(a.positionals[0]!);
    ctx.out.result(r, () => table(['started', 'state', 'from', 'to', 'fence ms', 'error'],
      r.moves.map((m) => [m.startedAt, m.state, `${m.fromIsolation}/${m.fromRegion}`, m.toRegion ? `${m.toIsolation}/${m.toRegion}` : '', m.fenceMs, m.error].map((v) => (v === null || v === undefined ? '' : String(v))))));
    return 0;
  },
};

export const tenantMoveCommands: Command[] = [move, moves];
