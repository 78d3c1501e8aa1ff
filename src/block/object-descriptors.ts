import { closeSync } from 'node:fs';

/** An open descriptor of a whole object's file. */
export interface Descriptor {
  readonly fd: number;
}

interface Entry extends Descriptor {
  users: number;
}

/**
 * Descriptors of whole objects' files, kept open between opens of the object
 * (least recently used closed past `capacity`), so that reopening a cached
 * file costs no open(2) of it: after the kernel has dropped its dentries, a
 * lookup of the object's file under objects/ took longer than the rest of
 * the open (profile). A descriptor whose file's bytes change (a block
 * dropped) is forgotten at once and closed when its last user is done.
 */
export class ObjectDescriptors {
  private readonly open = new Map<string, Entry>();

  constructor(
    private readonly capacity: number,
    private readonly openFile: (objectKey: string, size: number) => number | undefined,
  ) {}

  /** The object's descriptor, opened if need be (a file of `size` bytes); undefined when it cannot be. Release it once. */
  acquire(objectKey: string, size: number): Descriptor | undefined {
    let entry = this.open.get(objectKey);
    if (entry) {
      this.open.delete(objectKey);
    } else {
      const fd = this.openFile(objectKey, size);
      if (fd === undefined) return undefined;
      entry = { fd, users: 0 };
    }
    this.open.set(objectKey, entry);
    entry.users++;
    this.trim();
    return entry;
  }

  release(objectKey: string, descriptor: Descriptor): void {
    const entry = descriptor as Entry;
    entry.users--;
    if (entry.users === 0 && this.open.get(objectKey) !== entry) closeSync(entry.fd);
    else this.trim();
  }

  /** The object's file changed: its descriptor is not handed out again. */
  forget(objectKey: string): void {
    const entry = this.open.get(objectKey);
    if (!entry) return;
    this.open.delete(objectKey);
    if (entry.users === 0) closeSync(entry.fd);
  }

  closeAll(): void {
    for (const key of [...this.open.keys()]) this.forget(key);
  }

  private trim(): void {
    for (const [key, entry] of this.open) {
      if (this.open.size <= this.capacity) return;
      if (entry.users === 0) this.forget(key);
    }
  }
}
