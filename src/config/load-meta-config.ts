import { CachalotError } from '../errors';
import { findConfigFile, loadConfigFile } from './config-file';
import { META_SETTINGS, type MetaConfig } from './meta-config';
import { flagName } from './setting';
import { envLayer, fileLayer, flagLayer, mergeLayers, type RawSettings, type SettingLayer } from './setting-sources';

export interface MetaSources {
  /** --config; else CACHALOT_CONFIG, else /etc/cachalot/cachalot.toml if it exists. */
  configFile?: string;
  flags: RawSettings;
  env: NodeJS.ProcessEnv;
}

/**
 * As a mount's (load-config.ts): flags win over env, env over the [meta]
 * table of the file, each source checked where it is read; listen, data_dir
 * and token_file must come from one of them.
 */
export function loadMetaConfig(sources: MetaSources): MetaConfig {
  const fileRef = findConfigFile(sources.configFile, sources.env);
  const layers: SettingLayer[] = fileRef ? [fileLayer(loadConfigFile(fileRef).meta ?? {}, fileRef.label, 'meta.')] : [];
  layers.push(envLayer(META_SETTINGS, sources.env), flagLayer(META_SETTINGS, sources.flags));
  const s = mergeLayers(META_SETTINGS, layers).values;
  const missing = (Object.keys(META_SETTINGS) as Array<keyof typeof META_SETTINGS>).find((key) => 'required' in META_SETTINGS[key] && s[key] === undefined);
  if (missing) {
    throw new CachalotError('InvalidConfig', `${flagName(missing, META_SETTINGS[missing])} is required (a flag, or ${missing} under [meta] in the config file)`);
  }
  return {
    listen: s.listen!,
    dataDir: s.data_dir!,
    tokenFile: s.token_file!,
    leaseMs: s.lease_ms,
    endpoint: s.endpoint,
    region: s.region,
    listingTtlMs: s.listing_ttl,
    listingEntries: s.listing_entries,
    metrics: s.metrics,
    logLevel: s.log_level,
    tls: { cert: s.tls_cert, key: s.tls_key, ca: s.tls_ca },
  };
}
