import { existsSync, readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { z, ZodError, type ZodTypeAny } from 'zod';
import { CachalotError } from '../errors';
import { metaSettingsSchema } from './meta-config';
import { mountSettingsSchema } from './mount-config';

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
export type RawSettings = Record<string, unknown>;

/**
 * The config file to read: the one given (--config), else CACHALOT_CONFIG,
 * else /etc/cachalot/cachalot.toml when it exists; none is fine (defaults).
 */
export function configFilePath(given: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (given) return given;
  if (env.CACHALOT_CONFIG) return env.CACHALOT_CONFIG;
  return existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined;
}

/** Reads a TOML config file into raw settings; a missing or malformed file is a one-line error. */
export function readConfigFile(path: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CachalotError('InvalidConfig', `config file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
  try {
    return parseToml(text) as RawSettings;
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw new CachalotError('InvalidConfig', `config file ${path}: invalid TOML: ${first}`, { cause: err });
  }
}

/** Reads and validates the whole file; the first problem is one line naming its key (e.g. "mounts.data.block_size"). */
export function loadConfigFile(path: string): ConfigFile {
  return validate(configFileSchema, readConfigFile(path), `config file ${path}`);
}

/** Validates settings against a schema; the first problem becomes one line naming its key and where it came from. */
export function validate<S extends ZodTypeAny>(schema: S, raw: RawSettings, origin: string): z.output<S> {
  try {
    return schema.parse(raw);
  } catch (err) {
    if (!(err instanceof ZodError)) throw err;
    const issue = err.issues[0];
    const unknown = issue.code === 'unrecognized_keys';
    const key = [...issue.path, ...(unknown ? [issue.keys.join(', ')] : [])].join('.');
    throw new CachalotError('InvalidConfig', `${origin}: "${key}": ${unknown ? 'unknown key' : issue.message}`, { cause: err });
  }
}
