import { stat, writeFile } from 'node:fs/promises';

/**
 * Sets the kernel's readahead window for a FUSE mount. The kernel starts
 * every FUSE mount at 128 KiB, and a readahead request never spans more
 * than the window, so sequential reads would arrive 128 KiB at a time even
 * though libfuse3 negotiated 1 MiB requests. Root only (sysfs); the caller
 * decides what a failure means.
 *
 * Must not be called synchronously from the thread that serves the mount:
 * the stat below is answered by that very thread.
 */
export async function setKernelReadahead(mountpoint: string, kib: number): Promise<void> {
  const { dev } = await stat(mountpoint);
  // Linux's new_encode_dev: minor's low byte, 12 bits of major, then the rest of minor.
  const major = (dev >> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  await writeFile(`/sys/class/bdi/${major}:${minor}/read_ahead_kb`, String(kib));
}
