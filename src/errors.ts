/**
 * Typed errors shared by every layer. A `code` is stable (scripts and tests
 * match on it); only vfs/ turns codes into errno values and only cli/ turns
 * them into exit codes.
 */
export const ERROR_CODES = [
  'InvalidUri',
  'InvalidConfig',
  'NoSuchBucket',
  'AccessDenied',
  'InvalidCredentials',
  'EndpointUnreachable',
  'NotFound',
  'PreconditionFailed',
  'Throttled',
  'ServerError',
  'Timeout',
  'ConnectionLost',
  'ShortRead',
  'BadResponse',
  'MountpointInvalid',
  'MountFailed',
  'CacheDirBusy',
  'DataDirBusy',
  'NoDaemon',
  'Unauthenticated',
  'ListenFailed',
  'PeerFailed',
  // Meta's shared listing cache: a continuation token whose snapshot is gone; a folder larger than the cache.
  'ListingExpired',
  'ListingTooLarge',
  // Pins that would pass the cache's capacity (`cachalot pin`, `warmup --pin`).
  'PinTooLarge',
  // Multipart uploads: the upload is gone (completed, aborted, or never made); a part other than
  // the last under 5 MiB; a completed part list naming a part not uploaded (or with another ETag);
  // part numbers not ascending.
  'NoSuchUpload',
  'EntityTooSmall',
  'InvalidPart',
  'InvalidPartOrder',
  'Internal',
] as const;

/** A listed value, so that a code that crossed the wire (from meta) can be checked. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  'Throttled',
  'ServerError',
  'Timeout',
  'ConnectionLost',
  'ShortRead',
  'EndpointUnreachable',
]);

export class CachalotError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CachalotError';
    this.code = code;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export function isCachalotError(err: unknown, code?: ErrorCode): err is CachalotError {
  return err instanceof CachalotError && (code === undefined || err.code === code);
}

/** A request a server cannot take (malformed, or naming nothing that can exist): the caller's fault, answered so. */
export class BadRequest extends Error {}

/** One line for a human: the message without a stack, for CLI output. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0];
}
