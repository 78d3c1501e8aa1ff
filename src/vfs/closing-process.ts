import { readFileSync } from 'node:fs';

/** The kernel's task flags (include/linux/sched.h): exiting, and dying of a fatal signal. */
const PF_EXITING = 0x4;
const PF_SIGNALED = 0x400;

/**
 * Whether the process that closes a file is being killed: the kernel closes
 * a dying process's descriptors itself, and each close of a FUSE file is a
 * flush, so a writer killed halfway would otherwise store half a file.
 * /proc/PID/stat's flags tell: a fatal signal marks every thread of the
 * process PF_SIGNALED as it exits. A process that exits normally with a
 * file still open is not killed: what it wrote is stored.
 */
export function killedBySignal(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
    return (flags & PF_EXITING) !== 0 && (flags & PF_SIGNALED) !== 0;
  } catch {
    return false;
  }
}
