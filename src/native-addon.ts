import { resolve } from 'node:path';

/**
 * The loader of one of the project's N-API addons (native/NAME, built by
 * scripts/build-native.sh into cachalot_NAME.node): it loads the addon at
 * its first call, so that a process that never needs it (a CLI command, a
 * mount outside a cluster or systemd) never maps it.
 */
export function nativeAddon<T>(name: string): () => T {
  let loaded: T | undefined;
  const path = resolve(__dirname, `../../native/${name}/build/Release/cachalot_${name}.node`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return () => (loaded ??= require(path) as T);
}
