import { ZodError, type ZodIssue, type ZodTypeAny, type z } from 'zod';
import { CachalotError } from '../errors';
import { defaultsOf, flagName, type ResolvedSettings, type Setting, type Settings } from './setting';

export type RawSettings = Record<string, unknown>;

/**
 * The checked values of one source of settings (the file, the environment,
 * the flags) and how to say each of its keys as the user set it: --block-size,
 * CACHALOT_LOG_LEVEL, "mounts.data.block_size in FILE". A bad value is refused
 * where it is read, one line naming where it came from; a message about two
 * keys that do not go together names each as set.
 */
export interface SettingLayer {
  values: RawSettings;
  name(key: string): string;
}

/** A table of the config file, checked already (validate, with the file's label). */
export function fileLayer(values: RawSettings, label: string, prefix = ''): SettingLayer {
  return { values, name: (key) => `${prefix}${key} in ${label}` };
}

/** The variables each setting declares, the first set one winning; an empty variable counts as unset. */
export function envLayer(settings: Settings, env: NodeJS.ProcessEnv): SettingLayer {
  const values: RawSettings = {};
  const names: Record<string, string> = {};
  for (const [key, setting] of Object.entries(settings)) {
    const variable = setting.env?.find((name) => env[name] !== undefined && env[name] !== '');
    if (variable === undefined) continue;
    values[key] = checkValue(setting, env[variable], variable);
    names[key] = variable;
  }
  return { values, name: (key) => names[key] };
}

/** The flags given (undefined: not given), keyed by setting. */
export function flagLayer(settings: Settings, given: RawSettings): SettingLayer {
  const values: RawSettings = {};
  for (const [key, value] of Object.entries(given)) {
    const setting = settingOf(settings, key);
    if (value !== undefined) values[key] = checkValue(setting, value, flagName(key, setting));
  }
  return { values, name: (key) => flagName(key, settingOf(settings, key)) };
}

export interface MergedSettings<T extends Settings> {
  values: ResolvedSettings<T>;
  /** The key as the user set it (the layer it came from), or the bare key when it has its default. */
  name(key: string): string;
  /** Set by a layer, not left at its default. */
  isSet(key: string): boolean;
}

/** The defaults, then each layer over the ones before it. */
export function mergeLayers<T extends Settings>(settings: T, layers: SettingLayer[]): MergedSettings<T> {
  const values: RawSettings = { ...defaultsOf(settings) };
  const from = new Map<string, SettingLayer>();
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      if (value === undefined) continue;
      values[key] = value;
      from.set(key, layer);
    }
  }
  return { values: values as ResolvedSettings<T>, name: (key) => from.get(key)?.name(key) ?? key, isSet: (key) => from.has(key) };
}

/** One value checked against its setting; a bad one is `WHERE: why`. */
function checkValue(setting: Setting, value: unknown, where: string): unknown {
  const result = setting.schema.safeParse(value);
  if (!result.success) throw new CachalotError('InvalidConfig', `${where}: ${innermost(result.error.issues[0]).message}`);
  return result.data;
}

function settingOf(settings: Settings, key: string): Setting {
  const setting = settings[key];
  if (!setting) throw new Error(`no setting "${key}"`);
  return setting;
}

/**
 * Checks a whole table (the config file); the first problem becomes one
 * line: `LABEL: KEY: why`, the key's path in the file (mounts.data.block_size).
 */
export function validate<S extends ZodTypeAny>(schema: S, raw: RawSettings, label: string): z.output<S> {
  try {
    return schema.parse(raw);
  } catch (err) {
    if (!(err instanceof ZodError)) throw err;
    const issue = innermost(err.issues[0]);
    const unknown = issue.code === 'unrecognized_keys';
    const key = [...issue.path, ...(unknown ? [issue.keys.join(', ')] : [])].join('.');
    throw new CachalotError('InvalidConfig', `${label}: ${key}: ${unknown ? 'unknown key' : issue.message}`, { cause: err });
  }
}

/**
 * Of a value that matched none of a union's kinds (a size is a string or a
 * number), the reason of the kind it was meant as: not "Invalid input", and
 * not "Expected number, received string" when the string was the wrong one.
 */
function innermost(issue: ZodIssue): ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const inner = issue.unionErrors.flatMap((e) => e.issues);
  return innermost(inner.find((i) => i.code !== 'invalid_type') ?? inner[0] ?? issue);
}
