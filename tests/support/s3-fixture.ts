import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3RVER_CREDENTIALS, startS3rver, S3rverProcess } from '../../src/embedded/s3rver-process';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A real S3-compatible server (s3rver) on 127.0.0.1 with a client to seed it. Stop it in an after() hook. */
export interface S3Fixture {
  server: S3rverProcess;
  endpoint: string;
  client: S3Client;
  put(bucket: string, key: string, body: Buffer | string): Promise<void>;
  /** The object's bytes as S3 holds them; undefined when there is no such key. */
  get(bucket: string, key: string): Promise<Buffer | undefined>;
  remove(bucket: string, key: string): Promise<void>;
  /** Env for a cachalot process talking to this server. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startS3Fixture(buckets: string[]): Promise<S3Fixture> {
  const directory = mkdtempSync(join(tmpdir(), 'cachalot-s3-'));
  const server = await startS3rver({ directory, buckets });
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  return {
    server,
    endpoint: server.endpoint,
    client,
    put: async (bucket, key, body) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    get: async (bucket, key) => {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },
    remove: async (bucket, key) => {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // Daemons under test poison released block buffers: a use after release shows as wrong bytes.
      CACHALOT_DEBUG_POISON: '1',
    },
    stop: async () => {
      client.destroy();
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Uploads many objects with bounded concurrency. */
export async function putAll(fixture: S3Fixture, bucket: string, objects: Array<{ key: string; bytes: Buffer }>, concurrency = 16): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const { key, bytes } = objects[next++];
      await fixture.put(bucket, key, bytes);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
