#!/usr/bin/env node
// Starts tenantctl.ts in this process through tsx's loader: no build step and no child process,
// so signals (Ctrl-C during `migrate`) and the exit code are the command's own. Works as
// `npx tenantctl`, `npm run tenantctl --` and through an absolute path from any directory.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./tenantctl.ts', import.meta.url).href);
