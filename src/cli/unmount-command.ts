import { Command } from 'commander';
import { resolve } from 'node:path';
import { removeStaleControlSocket } from '../control/stale-socket';
import { CachalotError } from '../errors';
import { isMounted, isStaleMount, unmountPath } from '../mount/mountpoint';
import { die } from './exit';

export function unmountCommand(): Command {
  return new Command('unmount')
    .description('unmount a cachalot mount; its daemon then exits')
    .argument('<mountpoint>')
    .option('--lazy', 'detach now even if files are open (they are closed when their users let go)')
    .action(async (mountpoint: string, flags: { lazy?: boolean }) => {
      const path = resolve(mountpoint);
      try {
        try {
          if (!(await isMounted(path))) throw new CachalotError('MountpointInvalid', `${path} is not mounted`);
          const stale = await isStaleMount(path);
          await unmountPath(path, flags.lazy || stale).catch((err) => {
            const busy = /busy/i.test(String(err.stderr ?? err.message));
            throw new CachalotError('MountFailed', busy ? `${path} is busy (files are open); close them or use --lazy` : `unmount ${path} failed: ${String(err.stderr ?? err.message).trim()}`);
          });
        } finally {
          // A daemon killed with SIGKILL left its control socket behind; a live one removes its own as it exits.
          await removeStaleControlSocket(path);
        }
      } catch (err) {
        die(err);
      }
    });
}
