/**
 * The notes example behind the tenant router: its routes, what they cost and how they fail.
 * A note costs 5 quota units to write (it is stored and indexed) and 1 to list; notes never go
 * unmetered, so when the quota guard cannot be asked they are refused (503) even for tenants
 * whose tier fails open.
 */
import { createTenantRouter, type TenantRouterOptions } from 'edge-tenant-router';
import { notes } from './notes.js';

export const NOTES_OPTIONS = {
  routes: { '/api/v1/notes': notes },
  weights: { '/api/v1/notes': { POST: 5 } },
  failModes: { '/api/v1/notes': 'closed' },
} satisfies TenantRouterOptions;

/** The example's router; `extra` passes the services builder or access log (tests swap them). */
export const notesRouter = (extra: Pick<TenantRouterOptions, 'services' | 'accessLog'> = {}) =>
  createTenantRouter({ ...NOTES_OPTIONS, ...extra });
