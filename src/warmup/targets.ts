import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { askDaemon } from '../control/control-client';
import { controlSocketPath } from '../control/control-path';
import { CachalotError, isCachalotError, oneLine } from '../errors';
import { isBucketName } from '../object/s3-uri';
import type { ObjectInfo, ObjectStore } from '../object/types';

/** A target as given, and the S3 name it stands for: an object's key, or a prefix ('' for a whole bucket). */
export interface Target {
  name: string;
  bucket: string;
  key: string;
}

/** An object to warm, at the version (ETag) it has now. */
export interface TargetObject extends ObjectInfo {
  bucket: string;
}

/** A target that names nothing (missing, access denied): reported by name, the rest go on. */
export interface TargetFailure {
  name: string;
  code: string;
  error: string;
}

/** The targets of the command line and of --from-file (one a line; '-' for stdin; blank lines and #comments skipped). */
export async function readTargets(args: string[], fromFile: string | undefined): Promise<string[]> {
  if (fromFile === undefined) return args;
  const text = fromFile === '-' ? await readStdin() : await readFile(fromFile, 'utf8').catch((err) => {
    throw new CachalotError('InvalidConfig', `--from-file ${fromFile}: ${oneLine(err)}`);
  });
  const listed = text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  return [...args, ...listed];
}

/** s3://BUCKET[/KEY-OR-PREFIX], or a path under a cachalot mount (its daemon says which bucket and prefix it shows). */
export async function parseTarget(text: string): Promise<Target> {
  if (text.startsWith('s3://')) {
    const [bucket, ...rest] = text.slice('s3://'.length).split('/');
    if (!isBucketName(bucket)) throw new CachalotError('InvalidUri', `invalid target "${text}": expected s3://BUCKET[/KEY] or a path under a cachalot mount`);
    return { name: text, bucket, key: rest.join('/') };
  }
  const path = resolve(text);
  for (let dir = path; ; dir = dirname(dir)) {
    if (existsSync(controlSocketPath(dir))) {
      const stats = (await askDaemon(dir, '/stats')) as { source: string };
      const [bucket, ...prefix] = stats.source.slice('s3://'.length).split('/');
      const inside = relative(dir, path).split(sep).join('/');
      return { name: text, bucket, key: prefix.join('/') + inside };
    }
    if (dir === dirname(dir)) break;
  }
  throw new CachalotError('InvalidUri', `invalid target "${text}": not s3://BUCKET[/KEY] nor a path under a cachalot mount`);
}

/**
 * The objects a target names: the object of that key if there is one, else
 * every object under it as a folder. None: a failure naming the target.
 */
export async function* objectsOf(target: Target, store: ObjectStore): AsyncGenerator<TargetObject> {
  const { bucket, key } = target;
  if (key !== '' && !key.endsWith('/')) {
    const object = await store.head(key);
    if (object) {
      yield { ...object, bucket };
      return;
    }
  }
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  let found = false;
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ prefix, continuationToken });
    for (const object of page.objects) {
      // Folder markers hold no data.
      if (object.key.endsWith('/') && object.size === 0) continue;
      found = true;
      yield { ...object, bucket };
    }
    continuationToken = page.continuationToken;
  } while (continuationToken);
  if (!found) throw new CachalotError('NotFound', `no such object or prefix`);
}

export function failureOf(name: string, err: unknown): TargetFailure {
  return { name, code: isCachalotError(err) ? err.code : 'Internal', error: oneLine(err) };
}

async function readStdin(): Promise<string> {
  const pieces: Buffer[] = [];
  for await (const piece of process.stdin as AsyncIterable<Buffer>) pieces.push(piece);
  return Buffer.concat(pieces).toString('utf8');
}
