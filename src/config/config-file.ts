import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { CachalotError } from '../errors';
import { metaSettingsSchema } from './meta-config';
import { mountSettingsSchema } from './mount-config';
import { validate, type RawSettings } from './setting-sources';

/** Where a deployment keeps its one config file (scripts/install.sh puts it there). */
export const DEFAULT_CONFIG_PATH = '/etc/cachalot/cachalot.toml';

/** A mount's name: its systemd instance (cachalot@NAME.service) and its cache subfolder. */
const MOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** One [mounts.NAME] table: what to mount where, and any mount key for this mount alone. */
export const mountEntrySchema = mountSettingsSchema
  .extend({ source: z.string().min(1), mountpoint: z.string().startsWith('/', 'an absolute path') })
  .strict();

/**
 * The whole file: mount keys at the top are shared by every mount (flags of
 * `cachalot mount`), [mounts.NAME] tables are the mounts of this host
 * (cachalot@NAME.service), [meta] is the metadata service. docs/CONFIG.md.
 */
export const configFileSchema = mountSettingsSchema
  .extend({
    mounts: z.record(z.string().regex(MOUNT_NAME, 'mount names are letters, digits, ".", "_" or "-"'), mountEntrySchema).optional(),
    meta: metaSettingsSchema.optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;

/** A config file to read, and how messages name it: its path, or CACHALOT_CONFIG=PATH when that variable chose it. */
export interface ConfigFileRef {
  path: string;
  label: string;
}

/**
 * The config file to read: the one given (--config), else CACHALOT_CONFIG,
 * else /etc/cachalot/cachalot.toml when it exists; none is fine (defaults).
 */
export function findConfigFile(given: string | undefined, env: NodeJS.ProcessEnv): ConfigFileRef | undefined {
  if (given) return { path: given, label: given };
  if (env.CACHALOT_CONFIG) return { path: env.CACHALOT_CONFIG, label: `CACHALOT_CONFIG=${env.CACHALOT_CONFIG}` };
  return existsSync(DEFAULT_CONFIG_PATH) ? { path: DEFAULT_CONFIG_PATH, label: DEFAULT_CONFIG_PATH } : undefined;
}

/** Reads a TOML config file into raw settings; a missing or malformed file is a one-line error. */
export function readConfigFile(file: ConfigFileRef): RawSettings {
  let text: string;
  try {
    text = readFileSync(file.path, 'utf8');
  } catch (err) {
    throw new CachalotError('InvalidConfig', `${file.label}: cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
  try {
    return parseToml(text) as RawSettings;
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw new CachalotError('InvalidConfig', `${file.label}: invalid TOML: ${first}`, { cause: err });
  }
}

/** Reads and checks the whole file; the first problem is one line naming the file and the key (e.g. "mounts.data.block_size"). */
export function loadConfigFile(file: ConfigFileRef): ConfigFile {
  return validate(configFileSchema, readConfigFile(file), file.label);
}
