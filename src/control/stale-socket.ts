import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { controlSocketPath } from './control-path';

/**
 * Removes the control socket of a mountpoint whose daemon is gone (killed
 * with SIGKILL, it could not remove its own), so that nothing mistakes the
 * path for a mount that answers. Stale means refused: nobody listens on it.
 * A socket a daemon still answers on (one shutting down after an unmount)
 * is left to that daemon. True when one was removed.
 */
export async function removeStaleControlSocket(mountpoint: string): Promise<boolean> {
  const path = controlSocketPath(mountpoint);
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
  if (refused) await rm(path, { force: true });
  return refused;
}
