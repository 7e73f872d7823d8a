/**
 * A custom domain's life: add (Cloudflare custom hostname, then the row), check (Cloudflare's
 * state mapped by status.ts), remove. Nothing is left half-made: a hostname created at Cloudflare
 * whose row cannot be written is deleted again, and a row is only written after Cloudflare took the
 * hostname. Every change of what routers serve (a domain becoming active, leaving active, going)
 * bumps the tenant's version and invalidates its cache keys through the outbox, like any other
 * change, so it is seen within the same bound.
 */
import { AppError } from '../errors.js';
import { db } from '../control/db.js';
import { commitAndInvalidate } from '../control/outbox.js';
import type { ControlServices } from '../control/services.js';
import type { TenantView } from '../control/schemas.js';
import { bumpStatement, findTenant, lookupKeys } from '../control/tenant-repo.js';
import type { CustomHostname } from 'cloudflare/resources/custom-hostnames/custom-hostnames';
import { nextState, observe, recheckSeconds, recordsOf, type Observed } from './status.js';
import { checkedStatement, countDomains, domainTaken, findDomain, insertCapped, type DomainView, type NewDomain } from './store.js';

const warn = (msg: string, extra: Record<string, unknown>) => console.warn(JSON.stringify({ level: 'warn', msg, ...extra }));
const keysOf = (t: TenantView, host: string) => [...lookupKeys(t), { kind: 'domain' as const, value: host }];

/** Deletes a custom hostname we just created and could not record; a failure is logged (the next add of it adopts it). */
async function undo(s: ControlServices, ch: CustomHostname, adopted: boolean): Promise<void> {
  if (adopted) return; // not ours to delete: another add may be recording it right now
  await s.hostnames!.remove(ch.id).catch((err: unknown) => warn('custom hostname left at Cloudflare', { hostname: ch.hostname, error: String(err).slice(0, 200) }));
}

type Registered = Pick<NewDomain, 'state' | 'detail' | 'records' | 'cloudflareId'> & { made: { ch: CustomHostname; adopted: boolean } | null };

/** Creates the custom hostname at Cloudflare (without Cloudflare: nothing to create, active at once). */
async function register(s: ControlServices, host: string): Promise<Registered> {
  if (!s.hostnames) return { state: 'active', detail: null, records: [], cloudflareId: null, made: null };
  const { hostname: ch, adopted } = await s.hostnames.create(host);
  return { ...observe(ch), records: recordsOf(ch, s.config.CLOUDFLARE_CNAME_TARGET!), cloudflareId: ch.id, made: { ch, adopted } };
}

const deleting = () => new AppError(409, 'INVALID_STATE', 'this tenant is being deleted');

/** Adds `host` to `t` (within `cap`); answers the domain with the records to publish. */
export async function addDomain(s: ControlServices, t: TenantView, host: string, cap: number): Promise<DomainView> {
  const limit = () => new AppError(422, 'DOMAIN_LIMIT_REACHED', `tier ${t.tier} allows ${cap} custom domains`);
  // A tenant being deleted gets nothing new: its deletion has already listed the hostnames to remove.
  if (t.status === 'deleting') throw deleting();
  // Checked before asking Cloudflare, so a refused add costs no API call (and again below, under the lock).
  if (await domainTaken(s.sql, host)) throw new AppError(409, 'DOMAIN_TAKEN', 'this domain belongs to a tenant already');
  if (await countDomains(s.sql, t.id) >= cap) throw limit();
  const { made, ...row } = await register(s, host);
  let inserted: unknown[] | undefined;
  try {
    // The row lock serialises concurrent adds, so two of them cannot both pass the count.
    [, inserted] = await commitAndInvalidate(s, [
      s.sql.query('SELECT id FROM tenants WHERE id = $1 FOR UPDATE', [t.id]),
      insertCapped(s.sql, { host, tenantId: t.id, cap, ...row }),
      bumpStatement(s.sql, t.id),
    ], keysOf(t, host)) as unknown[][];
  } catch (err) {
    if (made) await undo(s, made.ch, made.adopted);
    throw err;
  }
  if (inserted!.length === 0) {
    if (made) await undo(s, made.ch, made.adopted);
    throw (await findTenant(s.sql, t.id))?.status === 'deleting' ? deleting() : limit();
  }
  return (await findDomain(s.sql, t.id, host))!;
}

/** What Cloudflare says now of `d` (registering it first when it has no custom hostname yet). */
async function look(s: ControlServices, d: DomainView): Promise<{ seen: Observed; ch: CustomHostname | null; made: boolean }> {
  if (!d.cloudflareId) {
    const { hostname: ch, adopted } = await s.hostnames!.create(d.hostname);
    return { seen: observe(ch), ch, made: !adopted };
  }
  const ch = await s.hostnames!.get(d.cloudflareId);
  if (!ch) return { seen: { state: 'failed', detail: 'the custom hostname no longer exists at Cloudflare; remove the domain and add it again' }, ch, made: false };
  return { seen: observe(ch), ch, made: false };
}

/** Asks Cloudflare for `d`'s state and records it; a change of what routers serve goes through the outbox. */
export async function refreshDomain(s: ControlServices, t: TenantView, d: DomainView): Promise<DomainView> {
  if (!s.hostnames || t.status === 'deleting') return d;
  const { seen, ch, made } = await look(s, d);
  const next = nextState(d.status, seen);
  const ageSeconds = (Date.now() - Date.parse(d.createdAt)) / 1000;
  const update = checkedStatement(s.sql, d.hostname, t.id, {
    state: next.state, detail: next.detail, records: ch ? recordsOf(ch, s.config.CLOUDFLARE_CNAME_TARGET!) : d.records,
    cloudflareId: ch?.id ?? d.cloudflareId, recheckSeconds: recheckSeconds(next.state, ageSeconds),
  });
  let updated: unknown[];
  try {
    if (next.state !== d.status) updated = (await commitAndInvalidate(s, [update, bumpStatement(s.sql, t.id)], keysOf(t, d.hostname)) as unknown[][])[0]!;
    else updated = await db(() => update) as unknown[];
  } catch (err) {
    if (made && ch) await undo(s, ch, false);
    throw err;
  }
  // The domain was removed while this check ran: a hostname made by this check has no row to own it.
  if (updated.length === 0 && made && ch) await undo(s, ch, false);
  return (await findDomain(s.sql, t.id, d.hostname)) ?? d;
}

/** Removes `host` from `t`: its custom hostname at Cloudflare first (already gone is fine), then the row. */
export async function removeDomain(s: ControlServices, t: TenantView, host: string): Promise<void> {
  const d = await findDomain(s.sql, t.id, host);
  if (!d) throw new AppError(404, 'NOT_FOUND', 'this tenant has no such domain');
  if (d.cloudflareId && s.hostnames) await s.hostnames.remove(d.cloudflareId);
  await commitAndInvalidate(s, [
    s.sql.query('DELETE FROM tenant_domains WHERE hostname = $1 AND tenant_id = $2', [host, t.id]), bumpStatement(s.sql, t.id),
  ], keysOf(t, host));
}
