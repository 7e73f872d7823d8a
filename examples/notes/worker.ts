/** The notes example's Worker entry (wrangler.toml beside it). */
import { notesRouter } from './app.js';

export default notesRouter();
export { TenantGuard, CircuitBreaker } from 'edge-tenant-router';
