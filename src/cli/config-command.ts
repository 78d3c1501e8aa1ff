import { Command } from 'commander';
import { stringify } from 'smol-toml';
import { findConfigFile, loadConfigFile, type ConfigFileRef } from '../config/config-file';
import { loadMountConfig } from '../config/load-config';
import { loadMetaConfig } from '../config/load-meta-config';
import { credentialSources, effectiveMetaSettings, effectiveMountSettings } from '../config/show-config';
import { CachalotError } from '../errors';
import { die } from './exit';

/** `cachalot config check|show`: the config file validated, or shown as every mount and meta would run with it. */
export function configCommand(): Command {
  const config = new Command('config').description('validate or show the config file (docs/CONFIG.md)');
  config
    .command('check')
    .description('validate FILE (default /etc/cachalot/cachalot.toml) as the daemons would at start, without starting anything; exit 2 with one line if it is not valid')
    .argument('[file]', 'the config file')
    .action((file: string | undefined) => {
      try {
        const ref = requireFile(file);
        const { mountNames, meta } = checkConfigFile(ref);
        const parts = [`${mountNames.length} mount${mountNames.length === 1 ? '' : 's'}${mountNames.length ? ` (${mountNames.join(', ')})` : ''}`, meta ? 'meta' : 'no meta'];
        process.stdout.write(`cachalot: ${ref.label} is valid: ${parts.join(', ')}\n`);
      } catch (err) {
        die(err);
      }
    });
  config
    .command('show')
    .description('print the effective config (file, environment, defaults) of every mount and of meta as TOML; secrets masked')
    .option('--config <file>', 'the config file (default /etc/cachalot/cachalot.toml)')
    .action((flags: { config?: string }) => {
      try {
        const ref = requireFile(flags.config);
        process.stdout.write(`# effective config: ${ref.label}, the environment, defaults\n${stringify(effectiveConfig(ref, process.env))}\n`);
      } catch (err) {
        die(err);
      }
    });
  return config;
}

function requireFile(given: string | undefined): ConfigFileRef {
  const ref = findConfigFile(given, process.env);
  if (!ref) throw new CachalotError('InvalidConfig', 'no config file: give one, or create /etc/cachalot/cachalot.toml');
  return ref;
}

/** Everything a start would check: the file, each mount as merged with the top-level keys, and meta as cachalot-meta.service runs it. */
export function checkConfigFile(ref: ConfigFileRef): { mountNames: string[]; meta: boolean } {
  const file = loadConfigFile(ref);
  const mountNames = Object.keys(file.mounts ?? {});
  for (const name of mountNames) loadMountConfig({ configFile: ref.path, name, env: {}, flags: {} });
  if (file.meta) loadMetaConfig({ configFile: ref.path, env: {}, flags: {} });
  return { mountNames, meta: file.meta !== undefined };
}

function effectiveConfig(ref: ConfigFileRef, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const file = loadConfigFile(ref);
  const mounts = Object.fromEntries(
    Object.keys(file.mounts ?? {}).map((name) => [name, effectiveMountSettings(loadMountConfig({ configFile: ref.path, name, env, flags: {} }))]),
  );
  const meta = file.meta && effectiveMetaSettings(loadMetaConfig({ configFile: ref.path, env, flags: {} }));
  return { mounts, ...(meta && { meta }), credentials: credentialSources(env) };
}
