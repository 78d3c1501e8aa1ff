import Fuse from 'fuse-native';
import type { Metrics } from '../obs/metrics';
import { toErrno } from '../vfs/errno';
import type { Attr, Vfs } from '../vfs/types';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

type Reply = (...args: unknown[]) => void;

function toStat(attr: Attr) {
  const dir = attr.kind === 'dir';
  return {
    mode: (dir ? S_IFDIR : S_IFREG) | attr.mode,
    size: attr.size,
    mtime: attr.mtime,
    atime: attr.mtime,
    ctime: attr.mtime,
    nlink: dir ? 2 : 1,
    uid: attr.uid,
    gid: attr.gid,
    blksize: 4096,
    blocks: Math.ceil(attr.size / 512),
  };
}

/**
 * fuse-native operations over a Vfs: each op calls the VFS, maps a failure to
 * the kernel's errno (fuse-native wants it negative) and replies. No cache or
 * S3 logic belongs here.
 */
export function fuseOperations(vfs: Vfs, metrics?: Metrics) {
  const fail = (reply: Reply, err: unknown) => reply(Fuse[toErrno(err)]);
  const timed = <A extends unknown[]>(op: string, run: (...args: [...A, Reply]) => void) =>
    (...args: [...A, Reply]) => {
      const stop = metrics?.fuseOps.startTimer({ op });
      const reply = args[args.length - 1] as Reply;
      args[args.length - 1] = (...out: unknown[]) => {
        stop?.();
        reply(...out);
      };
      run(...args);
    };

  return {
    getattr: timed<[string]>('getattr', (path, reply) => {
      vfs.getattr(path).then((attr) => reply(0, toStat(attr)), (err) => fail(reply, err));
    }),
    readdir: timed<[string]>('readdir', (path, reply) => {
      vfs.readdir(path).then(
        (entries) => reply(0, ['.', '..', ...entries.map((e) => e.name)]),
        (err) => fail(reply, err),
      );
    }),
    open: timed<[string, number]>('open', (path, flags, reply) => {
      vfs.open(path, flags).then((handle) => reply(0, handle), (err) => fail(reply, err));
    }),
    read: timed<[string, number, Buffer, number, number]>('read', (_path, handle, buffer, length, position, reply) => {
      vfs.read(handle, buffer, length, position).then(
        (bytes) => {
          metrics?.readBytes.inc(bytes);
          reply(bytes);
        },
        (err) => fail(reply, err),
      );
    }),
    release: timed<[string, number]>('release', (_path, handle, reply) => {
      vfs.release(handle).then(() => reply(0), (err) => fail(reply, err));
    }),
    statfs: (_path: string, reply: Reply) => {
      const s = vfs.statfs();
      reply(0, { bsize: s.blockSize, frsize: s.blockSize, blocks: s.blocks, bfree: s.blocksFree, bavail: s.blocksFree, files: s.files, ffree: s.files, favail: s.files, fsid: 0, flag: 0, namemax: s.nameMax });
    },
  };
}

export interface FuseMountOptions {
  fsName: string;
  /** Kernel attr/entry cache, seconds. */
  attrTimeoutSec: number;
  allowOther: boolean;
}

export interface FuseMount {
  unmount(): Promise<void>;
}

/** Mounts the VFS; resolves once the kernel has the mount. */
export function mountFuse(mountpoint: string, vfs: Vfs, options: FuseMountOptions, metrics?: Metrics): Promise<FuseMount> {
  const fuse = new Fuse(mountpoint, fuseOperations(vfs, metrics), {
    fsname: options.fsName,
    subtype: 'cachalot',
    // auto_cache keeps the kernel page cache across opens while size and mtime stay the same.
    autoCache: true,
    attrTimeout: options.attrTimeoutSec,
    entryTimeout: options.attrTimeoutSec,
    allowOther: options.allowOther,
    // Our reads retry S3 within a bound of their own; fuse-native's 15 s timer would turn slow reads into EIO.
    timeout: false,
  });
  return new Promise((resolve, reject) => {
    fuse.mount((err) => {
      if (err) return reject(err);
      resolve({
        unmount: () => new Promise<void>((done, fail) => fuse.unmount((e) => (e ? fail(e) : done()))),
      });
    });
  });
}
