/**
 * Many tenants for the cost curve: `count` row tenants inserted in one statement each into the
 * control database (placed like `acme`, the shared schema of its region, with limits no run
 * reaches), and how requests pick among them: uniformly, or Zipf-distributed (s = 1: the k-th
 * most popular tenant gets 1/k of the top one's traffic).
 */
import pg from 'pg';

export interface BenchTenant { id: string; slug: string }

const ROOMY = { rate_per_minute: 600_000, burst: 10_000, concurrency: 1_000, monthly_requests: 100_000_000 };

/** Inserts `count` active row tenants `<prefix>00001`…, placed like `like` (a seeded row tenant's id). */
export async function seedTenants(controlAdminUrl: string, like: string, prefix: string, count: number): Promise<BenchTenant[]> {
  const c = new pg.Client({ connectionString: controlAdminUrl });
  await c.connect();
  try {
    await c.query('BEGIN');
    const { rows } = await c.query<BenchTenant>(
      `INSERT INTO tenants (slug, name, tier, region, residency, isolation, status, overrides)
       SELECT $1 || lpad(g::text, 5, '0'), 'Bench ' || g, t.tier, t.region, NULL, t.isolation, 'active', $3::jsonb
       FROM generate_series(1, $2::int) g, tenants t WHERE t.id = $4
       RETURNING id, slug`, [prefix, count, JSON.stringify(ROOMY), like]);
    await c.query(
      `INSERT INTO tenant_placements (tenant_id, region, strategy, schema_name, role_name, database_name, connection_secret, external_ref)
       SELECT t.id, p.region, p.strategy, p.schema_name, p.role_name, p.database_name, p.connection_secret, p.external_ref
       FROM tenants t, tenant_placements p WHERE p.tenant_id = $2 AND t.slug LIKE $1 || '%'`, [prefix, like]);
    await c.query('COMMIT');
    return rows.sort((a, b) => a.slug.localeCompare(b.slug));
  } finally {
    await c.end();
  }
}

/** A picker of indexes in [0, n): uniform, or Zipf with exponent 1 (index 0 the most popular). */
export function picker(n: number, kind: 'uniform' | 'zipf', random: () => number = Math.random): () => number {
  if (kind === 'uniform') return () => Math.floor(random() * n);
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) { sum += 1 / (k + 1); cdf[k] = sum; }
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid]! < u) lo = mid + 1; else hi = mid; }
    return lo;
  };
}

/** How many distinct indexes a picker touched in `draws` draws (the run's really active tenants). */
export function distinct(pick: () => number, draws: number): number {
  const seen = new Set<number>();
  for (let i = 0; i < draws; i++) seen.add(pick());
  return seen.size;
}
