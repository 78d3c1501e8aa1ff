import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RVER_CREDENTIALS } from './s3rver-process';

export const SAMPLE_BUCKET = 'cachalot-demo';

/** Deterministic bytes for a key, so that anyone can check what a read returned. */
export function sampleBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = 2166136261;
  for (const ch of seed) x = Math.imul(x ^ ch.charCodeAt(0), 16777619);
  for (let i = 0; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, i);
  }
  for (let i = length - (length % 4); i < length; i++) out[i] = i & 0xff;
  return out;
}

/** The sample dataset: a few training shards and folders of small files. */
export function sampleObjects(): Array<{ key: string; bytes: Buffer }> {
  const objects: Array<{ key: string; bytes: Buffer }> = [
    { key: 'README.txt', bytes: Buffer.from('cachalot sample dataset: train/ holds tar shards, images/ small files.\n') },
  ];
  for (let i = 0; i < 4; i++) {
    const key = `train/shard-${String(i).padStart(4, '0')}.tar`;
    objects.push({ key, bytes: sampleBytes(key, 16 * 2 ** 20) });
  }
  for (const label of ['cat', 'dog']) {
    for (let i = 0; i < 100; i++) {
      const key = `images/${label}/${label}_${String(i).padStart(4, '0')}.jpg`;
      objects.push({ key, bytes: sampleBytes(key, 8192 + ((i * 7919) % 57344)) });
    }
  }
  const labels = objects.filter((o) => o.key.startsWith('images/')).map((o) => `${o.key},${o.key.split('/')[1]}`);
  objects.push({ key: 'images/labels.csv', bytes: Buffer.from(['path,label', ...labels].join('\n') + '\n') });
  return objects;
}

/** Uploads the sample dataset unless it is there already. */
export async function seedSampleDataset(endpoint: string): Promise<{ uploaded: number }> {
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  try {
    const present = await s3.send(new HeadObjectCommand({ Bucket: SAMPLE_BUCKET, Key: 'images/labels.csv' })).then(() => true, () => false);
    if (present) return { uploaded: 0 };
    const objects = sampleObjects();
    for (let i = 0; i < objects.length; i += 16) {
      await Promise.all(objects.slice(i, i + 16).map((o) => s3.send(new PutObjectCommand({ Bucket: SAMPLE_BUCKET, Key: o.key, Body: o.bytes }))));
    }
    return { uploaded: objects.length };
  } finally {
    s3.destroy();
  }
}
