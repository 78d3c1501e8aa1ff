/** Largest read the kernel sends: libfuse3 negotiates 256 pages (max_pages). */
const MAX_READ = 1024 * 1024;
/** Buffers kept for reuse; more than this are in flight only under a burst. */
const MAX_IDLE = 16;

/**
 * Buffers that read replies are assembled in, reused: a fresh 1 MiB buffer
 * per read is an mmap, page faults and a munmap each time.
 */
export class ReplyBuffers {
  private readonly idle: Buffer[] = [];

  take(size: number): Buffer {
    if (size > MAX_READ) return Buffer.allocUnsafeSlow(size);
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(MAX_READ);
  }

  give(buffer: Buffer): void {
    if (buffer.length === MAX_READ && this.idle.length < MAX_IDLE) this.idle.push(buffer);
  }
}
