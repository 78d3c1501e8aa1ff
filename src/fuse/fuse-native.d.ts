// Minimal typings for fuse-native 2.2.6, which ships none.
declare module 'fuse-native' {
  type Callback = (...args: any[]) => void;
  interface Operations {
    [op: string]: (...args: any[]) => void;
  }
  interface FuseOptions {
    [option: string]: unknown;
  }
  class Fuse {
    constructor(mnt: string, ops: Operations, opts?: FuseOptions);
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    static unmount(mnt: string, cb: Callback): void;
    static readonly ENOENT: number;
    static readonly EIO: number;
    static readonly EROFS: number;
    static readonly EISDIR: number;
    static readonly ENOTDIR: number;
    static readonly EBADF: number;
    static readonly EACCES: number;
    static readonly EINVAL: number;
  }
  export = Fuse;
}
