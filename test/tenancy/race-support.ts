/** Test hooks of the Neon and Upstash stand-ins (held requests, counts) and small timing helpers. */
import { stack } from '../support/helpers.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` every 100 ms until it is true (true) or `deadline` (epoch ms) passes (false). */
export async function until(deadline: number, probe: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/** One Redis command through the Upstash stand-in (plain values, no base64). */
export async function redis(cmd: (string | number)[]): Promise<unknown> {
  const res = await fetch(stack.upstash!.url, { method: 'POST', headers: { authorization: `Bearer ${stack.upstash!.token}` }, body: JSON.stringify(cmd) });
  const body = await res.json() as { result?: unknown; error?: string };
  if (body.error) throw new Error(body.error);
  return body.result;
}

/** Holds the next `times` control-database requests binding `param` (`after`: the answer, `before`: the query). */
export async function holdAtNeon(d: { param: string; ms: number; phase: 'before' | 'after'; times?: number }): Promise<void> {
  const res = await fetch(`${stack.neonEndpoint}/_test/delay`, { method: 'POST', body: JSON.stringify({ ...d, db: 'control' }) });
  if (!res.ok) throw new Error(`neon delay: ${res.status} ${await res.text()}`);
}

/** How many held requests arrived, ran their queries, and are still held, since the stack started. */
export async function heldAtNeon(): Promise<{ arrived: number; executed: number; waiting: number }> {
  return (await fetch(`${stack.neonEndpoint}/_test/delay`)).json() as Promise<{ arrived: number; executed: number; waiting: number }>;
}

/** Holds the next `times` Redis commands naming `key` (of `command`, when given) for `ms` before they run. */
export async function holdAtUpstash(d: { key: string; ms: number; command?: string; times?: number }): Promise<void> {
  const res = await fetch(`${stack.upstash!.url}/_test/delay`, {
    method: 'POST', headers: { authorization: `Bearer ${stack.upstash!.token}` }, body: JSON.stringify(d),
  });
  if (!res.ok) throw new Error(`upstash delay: ${res.status} ${await res.text()}`);
}

/** Control-database queries that bound a parameter containing `fragment`. */
export async function controlQueriesContaining(fragment: string): Promise<number> {
  const r = await fetch(`${stack.neonEndpoint}/_stats?${new URLSearchParams({ contains: fragment, db: 'control' })}`);
  return ((await r.json()) as { count: number }).count;
}
