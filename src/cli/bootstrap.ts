/**
 * `bootstrap`: prepares the control database and every region's shared database from the two
 * workers' variables (src/bootstrap/), read from `.secrets/<env>/{router,control}.env` or the
 * files given. Prints one line per database and role, exits 0, or 1 with one sentence. Nothing it
 * prints carries a password: URLs are masked, and any password of the files is scrubbed from
 * error messages.
 */
import type { Command } from './command.js';

export const bootstrapCommand: Command = {
  name: 'bootstrap', arity: [0, 0], summary: 'Create or update the control and regional databases and the router\'s roles (idempotent)',
  details: 'Reads the variables the workers read: the router\'s CONTROL_DATABASE_URL and REGION_DATABASE_URLS (their users and\n'
    + 'passwords are the roles to create) and the control plane\'s CONTROL_DATABASE_URL, REGION_ADMIN_URLS and ROUTER_ROLE (owners).',
  options: {
    env: { type: 'string', arg: 'NAME', help: 'read .secrets/NAME/router.env and .secrets/NAME/control.env (from the current directory)' },
    'router-env': { type: 'string', arg: 'FILE', help: "the router's variables (dotenv)" },
    'control-env': { type: 'string', arg: 'FILE', help: "the control plane's variables (dotenv)" },
    'dry-run': { type: 'boolean', help: 'print the plan and change nothing' },
    'retire-idle': { type: 'boolean', help: 'after a rotated router is deployed: take LOGIN from the idle login role of each pair (docs/key-rotation.md)' },
  },
  run: async (ctx, a) => (await import('./bootstrap-run.js')).runBootstrap(ctx, a),
};
