import { isCachalotError, oneLine } from '../errors';

/** Exit codes: 2 for what the user typed or configured, 1 for everything that failed at run time. */
export function exitCodeFor(err: unknown): number {
  return isCachalotError(err) && (err.code === 'InvalidUri' || err.code === 'InvalidConfig') ? 2 : 1;
}

/** Prints one line and exits. */
export function die(err: unknown): never {
  process.stderr.write(`cachalot: error: ${oneLine(err)}\n`);
  process.exit(exitCodeFor(err));
}
