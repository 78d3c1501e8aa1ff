import type { Attr } from '../vfs/types';
import type { StatArgs } from './native-fuse';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFMT = 0o170000;

/** A VFS attribute as the reply functions of native/fuse take it, for inode `ino`. */
export function statArgs(ino: number, attr: Attr): StatArgs {
  const dir = attr.kind === 'dir';
  return [ino, (dir ? S_IFDIR : S_IFREG) | attr.mode, attr.size, attr.mtime.getTime(), attr.uid, attr.gid, dir ? 2 : 1];
}
