import { envLayer, flagLayer, mergeLayers, type RawSettings } from './setting-sources';
import { S3_ORIGIN_SETTINGS } from './shared-settings';

/** Where S3 is: no endpoint means AWS's own for the region. */
export interface S3OriginConfig {
  endpoint?: string;
  region: string;
}

/** Where a command that lists (warmup, pin, unpin, evict) reaches S3: its flags, else the AWS environment, else the defaults. */
export function s3OriginFrom(flags: RawSettings, env: NodeJS.ProcessEnv): S3OriginConfig {
  return mergeLayers(S3_ORIGIN_SETTINGS, [envLayer(S3_ORIGIN_SETTINGS, env), flagLayer(S3_ORIGIN_SETTINGS, flags)]).values;
}
