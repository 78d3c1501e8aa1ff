import { Command } from 'commander';
import { stringify } from 'smol-toml';
import { configFilePath, loadConfigFile, type ConfigFile } from '../config/config-file';
import { loadMountConfig } from '../config/load-config';
import { credentialSources, effectiveMountSettings, formatDuration, maskUrl } from '../config/show-config';
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
        const path = requirePath(file);
        const { mountNames, meta } = checkConfigFile(path);
        const parts = [`${mountNames.length} mount${mountNames.length === 1 ? '' : 's'}${mountNames.length ? ` (${mountNames.join(', ')})` : ''}`, meta ? 'meta' : 'no meta'];
        process.stdout.write(`cachalot: ${path} is valid: ${parts.join(', ')}\n`);
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
        const path = requirePath(flags.config);
        process.stdout.write(`# effective config: ${path}, the environment, defaults\n${stringify(effectiveConfig(path, process.env))}\n`);
      } catch (err) {
        die(err);
      }
    });
  return config;
}

function requirePath(given: string | undefined): string {
  const path = configFilePath(given, process.env);
  if (!path) throw new CachalotError('InvalidConfig', 'no config file: give one, or create /etc/cachalot/cachalot.toml');
  return path;
}

/** Everything a start would check: the file, each mount as merged with the top-level keys, and meta's required keys. */
export function checkConfigFile(path: string): { mountNames: string[]; meta: boolean } {
  const file = loadConfigFile(path);
  const mountNames = Object.keys(file.mounts ?? {});
  for (const name of mountNames) loadMountConfig({ configFile: path, name, env: {}, flags: {} });
  if (file.meta) {
    const missing = (['listen', 'data_dir', 'token_file'] as const).find((key) => file.meta![key] === undefined);
    if (missing) throw new CachalotError('InvalidConfig', `config file ${path}: "meta.${missing}": required by cachalot-meta.service`);
  }
  return { mountNames, meta: file.meta !== undefined };
}

function effectiveConfig(path: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const file: ConfigFile = loadConfigFile(path);
  const mounts = Object.fromEntries(
    Object.keys(file.mounts ?? {}).map((name) => [name, effectiveMountSettings(loadMountConfig({ configFile: path, name, env, flags: {} }))]),
  );
  const meta = file.meta && {
    ...file.meta,
    ...(file.meta.endpoint && { endpoint: maskUrl(file.meta.endpoint) }),
    ...(file.meta.listing_ttl !== undefined && { listing_ttl: formatDuration(file.meta.listing_ttl) }),
  };
  return { mounts, ...(meta && { meta }), credentials: credentialSources(env) };
}
