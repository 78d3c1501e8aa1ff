import { envLayer, flagLayer, mergeLayers, type RawSettings } from './setting-sources';
import type { Settings } from './setting';
import { S3_ORIGIN_SETTINGS } from './shared-settings';

/** Where S3 is: no endpoint means AWS's own for the region. */
export interface S3OriginConfig {
  endpoint?: string;
  region: string;
}

/** --endpoint and --region of the commands that list for a cluster: their defaults come from meta first. */
export const CLUSTER_CLIENT_ORIGIN_SETTINGS = {
  endpoint: { ...S3_ORIGIN_SETTINGS.endpoint, defaultText: "meta's with --meta, else AWS" },
  region: { ...S3_ORIGIN_SETTINGS.region, defaultText: "meta's with --meta, else us-east-1" },
} as const satisfies Settings;

/**
 * Where a command that lists for a cluster (warmup, pin, unpin, evict) reaches
 * S3: its flags, else the AWS environment, else what meta was started with
 * (so the endpoint is given once, to meta), else the defaults. The flags and
 * the environment are checked at once, before meta is asked; the result
 * takes meta's answer (none: standalone, or an older meta).
 */
export function s3OriginFrom(flags: RawSettings, env: NodeJS.ProcessEnv): (meta?: S3OriginConfig) => S3OriginConfig {
  const layers = [envLayer(S3_ORIGIN_SETTINGS, env), flagLayer(S3_ORIGIN_SETTINGS, flags)];
  return (meta) => {
    const fromMeta = { values: { ...meta }, name: (key: string) => `${key} of meta` };
    return mergeLayers(S3_ORIGIN_SETTINGS, [fromMeta, ...layers]).values;
  };
}
