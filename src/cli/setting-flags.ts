import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { flagName, helpOf, type Settings } from '../config/setting';
import type { RawSettings } from '../config/setting-sources';

/**
 * A flag for each setting that has one, its help and default from the
 * declaration. Commander neither parses nor defaults them: what the user
 * typed goes to src/config/, which checks it and names the flag in an error,
 * and a flag not typed leaves the environment's or the file's value alone.
 */
export function addSettingFlags(command: Command, settings: Settings): Command {
  for (const [key, setting] of Object.entries(settings)) {
    if (setting.flag === undefined) continue;
    const takes = setting.flag === 'switch' || setting.flag === 'off' ? '' : ` ${setting.flag}`;
    command.addOption(new Option(`${flagName(key, setting)}${takes}`, helpOf(setting)));
  }
  return command;
}

/** The settings given as flags on this command line, by key; paths made absolute (a daemon may start elsewhere). */
export function givenSettings(command: Command, settings: Settings): RawSettings {
  const given: RawSettings = {};
  for (const [key, setting] of Object.entries(settings)) {
    const option = setting.flag === undefined ? undefined : command.options.find((o) => o.long === flagName(key, setting));
    if (!option || command.getOptionValueSource(option.attributeName()) !== 'cli') continue;
    const value: unknown = command.getOptionValue(option.attributeName());
    given[key] = setting.path && typeof value === 'string' ? resolve(value) : value;
  }
  return given;
}
