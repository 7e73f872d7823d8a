/**
 * Where `npm run secrets` takes the values an operator gives (owner database URLs, API tokens):
 * environment variables, or a dotenv file (`--input <file>`, `-` for stdin), never the command
 * line, which `ps` and shell history show to anyone. The names are prefixed `SECRETS_` so a
 * variable exported for another tool (wrangler's own CLOUDFLARE_API_TOKEN, neonctl's NEON_API_KEY)
 * is never taken by mistake. Pure: the caller reads the file and the environment.
 */
import { knownRegions } from '../regions.js';
import { InputError } from './database-urls.js';
import type { SecretsInput } from './secrets-plan.js';

/** The variable of each given value. */
export const INPUT_VARS = {
  controlOwnerUrl: 'SECRETS_CONTROL_OWNER_URL',
  upstashUrl: 'SECRETS_UPSTASH_URL',
  upstashToken: 'SECRETS_UPSTASH_TOKEN',
  neonApiKey: 'SECRETS_NEON_API_KEY',
  cloudflareApiToken: 'SECRETS_CLOUDFLARE_API_TOKEN',
} as const;
/** A region's owner URL: SECRETS_REGION_ and the region id upper-cased, `-` as `_` (SECRETS_REGION_AWS_EU_CENTRAL_1). */
export const REGION_PREFIX = 'SECRETS_REGION_';

/** The variable holding `region`'s owner URL. */
export const regionVar = (region: string): string => REGION_PREFIX + region.toUpperCase().replace(/-/g, '_');

/** The options that once took these values on the command line, and the variable that does now. */
export const RETIRED_FLAGS: Readonly<Record<string, string>> = {
  '--control-owner-url': INPUT_VARS.controlOwnerUrl,
  '--region': `${REGION_PREFIX}<REGION> (${regionVar('aws-eu-central-1')}=…)`,
  '--upstash-url': INPUT_VARS.upstashUrl,
  '--upstash-token': INPUT_VARS.upstashToken,
  '--neon-api-key': INPUT_VARS.neonApiKey,
  '--cloudflare-api-token': INPUT_VARS.cloudflareApiToken,
};

const KNOWN = new Set<string>(Object.values(INPUT_VARS));

/**
 * The given values: `file`'s (the --input file) over `environment`'s; an empty value counts as
 * absent. A `SECRETS_` name that is none of the above (a typo) is refused, by name.
 */
export function secretsInput(environment: Record<string, string | undefined>, file: Record<string, string>, rotate: SecretsInput['rotate']): SecretsInput {
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(environment)) if (k.startsWith('SECRETS_') && v) all[k] = v;
  for (const [k, v] of Object.entries(file)) {
    if (!k.startsWith('SECRETS_')) throw new InputError(`the input file holds ${k}: its variables are ${[...KNOWN].join(', ')} and ${REGION_PREFIX}<REGION>`);
    if (v) all[k] = v;
  }
  const regions: Record<string, string> = {};
  const byVar = new Map(knownRegions().map((r) => [regionVar(r), r]));
  for (const [k, v] of Object.entries(all)) {
    if (KNOWN.has(k)) continue;
    if (k.startsWith(REGION_PREFIX)) {
      const region = byVar.get(k);
      if (!region) throw new InputError(`${k} names no region the router knows (${knownRegions().map(regionVar).join(', ')})`);
      regions[region] = v;
      continue;
    }
    throw new InputError(`${k} is not a variable npm run secrets reads: they are ${[...KNOWN].join(', ')} and ${REGION_PREFIX}<REGION>`);
  }
  return {
    controlOwnerUrl: all[INPUT_VARS.controlOwnerUrl], regions,
    upstashUrl: all[INPUT_VARS.upstashUrl], upstashToken: all[INPUT_VARS.upstashToken],
    neonApiKey: all[INPUT_VARS.neonApiKey], cloudflareApiToken: all[INPUT_VARS.cloudflareApiToken], rotate,
  };
}
