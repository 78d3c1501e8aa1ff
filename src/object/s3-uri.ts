import { CachalotError } from '../errors';

export interface S3Location {
  bucket: string;
  /** '' for the whole bucket, otherwise ends with '/'. */
  prefix: string;
}

// S3's bucket naming rules (3-63 chars, lowercase, digits, dots, hyphens).
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isBucketName(bucket: string): boolean {
  return BUCKET_NAME.test(bucket) && !bucket.includes('..');
}

/** Parses `s3://BUCKET[/PREFIX]`; the prefix is treated as a folder. */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(uri);
  if (!match) {
    throw new CachalotError('InvalidUri', `invalid URI "${uri}": expected s3://BUCKET[/PREFIX]`);
  }
  const [, bucket, rawPrefix = ''] = match;
  if (!isBucketName(bucket)) {
    throw new CachalotError('InvalidUri', `invalid bucket name "${bucket}" in "${uri}"`);
  }
  const segments = rawPrefix.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) {
    throw new CachalotError('InvalidUri', `invalid prefix in "${uri}": "." and ".." are not allowed`);
  }
  return { bucket, prefix: segments.length ? segments.join('/') + '/' : '' };
}
