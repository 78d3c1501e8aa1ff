import { isCachalotError } from '../errors';
import { Errno, VfsError } from './types';

/** The only place where typed errors from lower layers become errno names. */
export function toErrno(err: unknown): Errno {
  if (err instanceof VfsError) return err.errno;
  // The local disk under a file being written (its spool).
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'ENOSPC';
  if (isCachalotError(err)) {
    switch (err.code) {
      case 'NotFound':
        return 'ENOENT';
      case 'AccessDenied':
      case 'InvalidCredentials':
        return 'EACCES';
      default:
        return 'EIO';
    }
  }
  return 'EIO';
}
