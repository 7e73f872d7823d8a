/**
 * A target database, created by its owner when it does not exist yet (on Neon a project's
 * database usually does; a fresh local cluster has none). The owner needs CREATEDB for that,
 * which both a superuser and Neon's `neondb_owner` have.
 */
import { withClient } from '../provisioning/pg-client.js';
import { withDatabase } from '../provisioning/provisioner.js';
import { createDatabaseSql } from './sql.js';

const MISSING_DATABASE = '3D000';

/** Creates the database `ownerUrl` names if it is missing; whether it did. */
export async function ensureDatabase(ownerUrl: string, database: string): Promise<boolean> {
  try {
    await withClient(ownerUrl, async (c) => { await c.query('SELECT 1'); });
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== MISSING_DATABASE) throw err;
  }
  await withClient(withDatabase(ownerUrl, 'postgres'), async (c) => {
    await c.query(createDatabaseSql(database));
  });
  return true;
}
