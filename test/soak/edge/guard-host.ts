/**
 * The soak's Durable Object host: the router's own TenantGuard and CircuitBreaker classes, with
 * the few hooks a fault test needs and production must not have (crash an object, flush its usage
 * now, count what its storage holds). The soak's router isolates bind these classes through
 * `script_name`, as separate workers bind one object namespace in production.
 */
import { TenantGuard as Guard } from '../../../src/quota/tenant-guard.js';
import { CircuitBreaker as Breaker } from '../../../src/breaker/circuit-breaker.js';
import type { Env } from '../../../src/env.js';

/** Rows in every table of an object's SQLite storage (Cloudflare's own `_cf_` tables excluded). */
function storedRows(sql: SqlStorage): { rows: number; tables: Record<string, number> } {
  // `_cf_*` are Cloudflare's own tables; `__miniflare_do_name` is where local workerd remembers an
  // object's name (production has no such table): neither is the object's state.
  const names = [...sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 4) <> '_cf_' AND substr(name, 1, 7) <> 'sqlite_' AND name <> '__miniflare_do_name'")];
  const tables: Record<string, number> = {};
  for (const t of names) tables[t.name] = Number([...sql.exec<{ n: number }>(`SELECT count(*) AS n FROM "${t.name.replace(/"/g, '')}"`)][0]?.n ?? 0);
  return { rows: Object.values(tables).reduce((a, b) => a + b, 0), tables };
}

export class TenantGuard extends Guard {
  /** Restarts the object as a crash would: in-memory state gone, storage kept. */
  async crash(): Promise<void> { this.ctx.abort('soak: crash'); }
  /** Runs the usage flush now (the alarm's work) instead of waiting for the alarm. */
  async flushNow(): Promise<void> { await this.alarm(); }
  /** What the object still stores: rows over all its tables, and whether an alarm is set. */
  async stored(): Promise<{ rows: number; tables: Record<string, number>; alarm: boolean }> {
    return { ...storedRows(this.ctx.storage.sql), alarm: (await this.ctx.storage.getAlarm()) !== null };
  }
}

export class CircuitBreaker extends Breaker {
  async crash(): Promise<void> { this.ctx.abort('soak: crash'); }
  async stored(): Promise<{ rows: number; tables: Record<string, number>; alarm: boolean }> {
    return { ...storedRows(this.ctx.storage.sql), alarm: (await this.ctx.storage.getAlarm()) !== null };
  }
}

/** `POST /guard/<tenant id>/crash|flush`, `GET /guard/<tenant id>/stored`, same under /breaker/<target>. */
export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const m = /^\/(guard|breaker)\/([^/]+)\/(crash|flush|stored)$/.exec(new URL(req.url).pathname);
    if (!m) return Response.json({ error: 'not found' }, { status: 404 });
    const [, kind, name, action] = m as unknown as [string, 'guard' | 'breaker', string, string];
    const ns = (kind === 'guard' ? env.TENANT_GUARD : env.CIRCUIT_BREAKER) as unknown as DurableObjectNamespace<TenantGuard & CircuitBreaker>;
    const stub = ns.get(ns.idFromName(kind === 'guard' ? `tenant:${decodeURIComponent(name)}` : decodeURIComponent(name)));
    try {
      if (action === 'crash') { await stub.crash().catch(() => {}); return Response.json({ crashed: true }); }
      if (action === 'flush') { await stub.flushNow(); return Response.json({ flushed: true }); }
      return Response.json(await stub.stored());
    } catch (err) {
      return Response.json({ error: String(err) }, { status: 503 });
    }
  },
};
