/**
 * `tenant export|erase`, `export verify`: a tenant's data as a whole (docs/tenant-keys.md).
 * An export is written byte for byte as the API answered it, then checked here against its
 * manifest (counts and SHA-256 per part) and its signature checked by the control plane.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkArchive } from '../tenant-data/archive.js';
import { ApiError } from './client.js';
import { str, type Command } from './command.js';
import { keyValues, table } from './format.js';

const exportCmd: Command = {
  name: 'tenant export', args: '<id|slug>', arity: [1, 1],
  summary: "Export everything held of a tenant into one JSON-lines archive with a signed manifest (exit 1 if it does not check out)",
  options: { out: { type: 'string', arg: 'FILE', help: 'write the archive to FILE instead of stdout' } },
  examples: ['tenant export acme --out acme-export.jsonl'],
  async run(ctx, a) {
    const text = await ctx.client().exportTenant(a.positionals[0]!);
    const check = await checkArchive(text);
    const verified = check.manifest ? await ctx.client().verifyDocument(check.manifest) : { valid: false, kid: null };
    const ok = check.ok && verified.valid;
    const out = str(a, 'out');
    if (!out) {
      process.stdout.write(text);
      if (!ok) process.stderr.write(`the archive does not match its manifest (${check.mismatched.join(', ') || 'signature'})\n`);
      return ok ? 0 : 1;
    }
    await writeFile(resolve(out), text);
    const m = check.manifest;
    ctx.out.result({ file: resolve(out), bytes: Buffer.byteLength(text), ok, mismatched: check.mismatched, signature: verified, manifest: m }, () => [
      `wrote ${Buffer.byteLength(text)} bytes to ${out}: ${ok ? 'manifest and signature verified' : `DOES NOT VERIFY (${check.mismatched.join(', ') || 'signature'})`}`,
      ...(m ? ['', ...table(['PART', 'ITEMS', 'SHA-256'], m.parts.map((p) => [p.name, String(p.count), p.sha256]))] : []),
    ]);
    return ok ? 0 : 1;
  },
};

const verifyCmd: Command = {
  name: 'export verify', args: '<file>', arity: [1, 1],
  summary: "Check an export archive against its manifest and the manifest's signature (exit 1 if either fails)",
  examples: ['export verify acme-export.jsonl'],
  async run(ctx, a) {
    const text = await readFile(resolve(a.positionals[0]!), 'utf8');
    const check = await checkArchive(text);
    const verified = check.manifest ? await ctx.client().verifyDocument(check.manifest) : { valid: false, kid: null };
    const ok = check.ok && verified.valid;
    ctx.out.result({ ok, mismatched: check.mismatched, signature: verified }, () => keyValues([
      ['parts', check.ok ? 'all match the manifest' : `do not match: ${check.mismatched.join(', ')}`],
      ['signature', verified.valid ? `valid (${verified.kid})` : 'INVALID'],
    ]));
    return ok ? 0 : 1;
  },
};

const eraseCmd: Command = {
  name: 'tenant erase', args: '<id|slug>', arity: [1, 1],
  summary: "Erase a tenant from every store and destroy its key (--confirm repeats the slug); prints the signed receipt",
  details: 'Irreversible: values sealed with the tenant key can never be opened again, also from backups. A deleted tenant is erased by id.',
  options: { confirm: { type: 'string', arg: 'SLUG', help: "the tenant's slug, repeated" } },
  examples: ['tenant erase acme --confirm acme'],
  async run(ctx, a) {
    const r = await ctx.client().eraseTenant(a.positionals[0]!, str(a, 'confirm')).catch((err: unknown) => {
      if (err instanceof ApiError && err.code === 'CONFIRMATION_REQUIRED') {
        throw new ApiError(err.status, err.code, "erasing destroys the tenant's data and key: repeat its slug with --confirm <slug>", err.requestId);
      }
      throw err;
    });
    ctx.out.result(r, () => [
      `erased ${r.slug} (${r.tenantId}): ${r.verification.complete ? 'nothing left in any store' : 'SOMETHING IS LEFT, see the verification'}; key destroyed: ${r.keyDestroyed ? 'yes' : 'NO'}`,
      ...keyValues([['storage fence', r.fencePendingUntil ? `lifted at ${r.fencePendingUntil}` : 'lifted'], ['guard', r.removed.guard], ['signature', `${r.signature.alg} ${r.signature.kid}`]]),
      '', ...table(['STORE', 'REMOVED', 'LEFT'], [
        ...Object.entries(r.removed.control).map(([k, n]) => [k, String(n), String(r.verification.control[k] ?? 0)]),
        ...Object.entries(r.removed.storage).map(([k, n]) => [`storage.${k}`, String(n), String(r.verification.storage[k] ?? 0)]),
      ]),
    ]);
    return r.verification.complete ? 0 : 1;
  },
};

export const tenantDataCommands: Command[] = [exportCmd, eraseCmd, verifyCmd];
