/** IPv4 and IPv6 addresses and CIDR ranges as bigints, pure. IPv4-mapped IPv6 counts as IPv4. */

export interface Cidr { v: 4 | 6; base: bigint; bits: number }

/** Parses an IPv4 or IPv6 address; null when it is not one. */
export function parseIp(s: string): { v: 4 | 6; n: bigint } | null {
  const text = s.trim();
  const v4 = parseV4(text);
  if (v4 !== null) return { v: 4, n: v4 };
  const v6 = parseV6(text);
  if (v6 === null) return null;
  // ::ffff:a.b.c.d is an IPv4 client seen through an IPv6 socket.
  if (v6 >> 32n === 0xffffn) return { v: 4, n: v6 & 0xffffffffn };
  return { v: 6, n: v6 };
}

/** Parses `addr/bits` (or a bare address as a single host); throws on garbage. */
export function parseCidr(s: string): Cidr {
  const [addr, len, extra] = s.split('/');
  const ip = addr ? parseIp(addr) : null;
  if (!ip || extra !== undefined) throw new Error(`invalid CIDR ${s}`);
  const max = ip.v === 4 ? 32 : 128;
  const bits = len === undefined ? max : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > max || (len !== undefined && !/^\d+$/.test(len))) throw new Error(`invalid CIDR ${s}`);
  return { v: ip.v, base: ip.n >> BigInt(max - bits), bits };
}

/** Whether `ip` lies inside `cidr`. */
export function inCidr(ip: { v: 4 | 6; n: bigint }, cidr: Cidr): boolean {
  if (ip.v !== cidr.v) return false;
  const max = ip.v === 4 ? 32 : 128;
  return ip.n >> BigInt(max - cidr.bits) === cidr.base;
}

function parseV4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith('0')) || Number(p) > 255) return null;
    n = (n << 8n) | BigInt(p);
  }
  return n;
}

function parseV6(s: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split('::').length > 2) return null;
  let text = s;
  // A trailing dotted quad stands for the last two groups.
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (m) {
    const v4 = parseV4(m[2]!);
    if (v4 === null) return null;
    text = `${m[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - h.length - t.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...h, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...t];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}
