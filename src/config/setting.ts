import { z, type ZodTypeAny } from 'zod';

/**
 * One setting, declared once: its key (snake_case, as the config file writes
 * it), how its flag (--key-with-dashes) takes a value, its help, its default
 * and the environment variables that set it. The flags, the file's schema,
 * the defaults and every --help line are made from these declarations, so a
 * default is written once; docs/CONFIG.md and the README's option table are
 * prose a person reads, and tests/unit/settings-docs.test.ts checks that
 * they name every flag and key with the default declared here.
 */
export interface Setting {
  /** Checks and converts a value from the file, the environment or a flag (a flag's value is a string; a switch's true). */
  schema: ZodTypeAny;
  /** `<size>`: a flag with a value; 'switch': a flag that sets true; 'off': a --no-KEY flag that sets false; none: the file only. */
  flag?: `<${string}>` | 'switch' | 'off';
  help: string;
  /** The default as the file writes it; `schema` turns it into the value. */
  default?: string | number | boolean;
  /** A default that depends on other settings or the host, in words (help and docs). */
  defaultText?: string;
  /** Variables that set it, the first set one winning; flags win over them, they over the file. */
  env?: readonly string[];
  /** A path: one given as a flag is taken from the working directory. */
  path?: true;
  /** Must be set somewhere (a flag, the environment or the file). */
  required?: true;
}

export type Settings = Readonly<Record<string, Setting>>;

/** The checked values of some settings, each optional. */
export type SettingValues<T extends Settings> = { [K in keyof T]?: z.output<T[K]['schema']> };

/** All settings after the defaults: one with a default always has a value. */
export type ResolvedSettings<T extends Settings> = {
  [K in keyof T]: T[K] extends { default: string | number | boolean } ? z.output<T[K]['schema']> : z.output<T[K]['schema']> | undefined;
};

/** The flag as a user types it: --block-size, --no-peer-lz4; a file-only key gets the flag it would have, for messages. */
export function flagName(key: string, setting: Setting): string {
  const dashed = key.replace(/_/g, '-');
  return setting.flag === 'off' ? `--no-${dashed}` : `--${dashed}`;
}

/** The --help line: the declared help, then the default and the variables. */
export function helpOf(setting: Setting): string {
  const shown = setting.defaultText ?? (typeof setting.default === 'boolean' ? undefined : setting.default);
  const notes = [setting.required && 'required', shown !== undefined && `default ${shown}`, setting.env?.length && `env ${setting.env.join(' or ')}`].filter(Boolean);
  return notes.length > 0 ? `${setting.help} (${notes.join('; ')})` : setting.help;
}

/** The schema of a table of them in the config file: each key optional, unknown keys refused. */
export function schemaOf<T extends Settings>(settings: T) {
  const shape = Object.fromEntries(Object.entries(settings).map(([key, s]) => [key, s.schema.optional()]));
  return z.object(shape as { [K in keyof T]: z.ZodOptional<T[K]['schema']> }).strict();
}

/** The declared defaults, converted as a value from the file would be. */
export function defaultsOf<T extends Settings>(settings: T): SettingValues<T> {
  const entries = Object.entries(settings).filter(([, s]) => s.default !== undefined);
  return Object.fromEntries(entries.map(([key, s]) => [key, s.schema.parse(s.default)])) as SettingValues<T>;
}
