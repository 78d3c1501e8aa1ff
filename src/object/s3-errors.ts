import { CachalotError, ErrorCode } from '../errors';

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

const NETWORK_UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
/** S3's multipart errors, whose names are our codes. */
const MULTIPART = new Set(['NoSuchUpload', 'EntityTooSmall', 'InvalidPart', 'InvalidPartOrder']);
const BAD_CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken']);

/** Maps an aws-sdk or socket error to a typed error; `what` names the target. */
export function fromS3Error(err: unknown, what: string): CachalotError {
  if (err instanceof CachalotError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? e.code ?? '';
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const code = classify(name, e.code, status);
  return new CachalotError(code, `${what}: ${describe(code, e.code ?? name, status, e.message)}`, { cause: err });
}

function classify(name: string, sysCode: string | undefined, status: number | undefined): ErrorCode {
  if (name === 'NoSuchBucket') return 'NoSuchBucket';
  if (name === 'NoSuchKey' || name === 'NotFound') return 'NotFound';
  if (MULTIPART.has(name)) return name as ErrorCode;
  if (BAD_CREDENTIALS.has(name) || name === 'CredentialsProviderError') return 'InvalidCredentials';
  if (name === 'AccessDenied' || status === 403) return 'AccessDenied';
  if (name === 'PreconditionFailed' || status === 412) return 'PreconditionFailed';
  // An error S3 sent in the body of a 200 (Complete, copies) the sdk marks 503: its code says which.
  if (name === 'InternalError') return 'ServerError';
  if (name === 'SlowDown' || name === 'Throttling' || status === 503 || status === 429) return 'Throttled';
  if (name === 'TimeoutError' || name === 'RequestTimeout' || sysCode === 'ETIMEDOUT') return 'Timeout';
  if (NETWORK_UNREACHABLE.has(name) || (sysCode && NETWORK_UNREACHABLE.has(sysCode))) return 'EndpointUnreachable';
  if (CONNECTION_LOST.has(name) || (sysCode && CONNECTION_LOST.has(sysCode))) return 'ConnectionLost';
  if (status === 404) return 'NotFound';
  if (status !== undefined && status >= 500) return 'ServerError';
  if (status === undefined) return 'ConnectionLost';
  return 'Internal';
}

function describe(code: ErrorCode, name: string, status: number | undefined, message?: string): string {
  switch (code) {
    case 'NoSuchBucket':
      return 'bucket does not exist';
    case 'InvalidCredentials':
      return name === 'CredentialsProviderError'
        ? 'no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE'
        : `credentials rejected (${name}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
    case 'AccessDenied':
      return 'access denied; check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and the bucket policy';
    case 'EndpointUnreachable':
      return `endpoint unreachable (${name || 'network error'})`;
    default:
      return `${name || 'error'}${status ? ` (HTTP ${status})` : ''}${message && message !== name ? `: ${message}` : ''}`;
  }
}
