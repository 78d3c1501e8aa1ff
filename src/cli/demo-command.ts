import { Command } from 'commander';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { loadMountConfig } from '../config/load-config';
import { SAMPLE_BUCKET, seedSampleDataset } from '../embedded/sample-dataset';
import { S3RVER_CREDENTIALS, startS3rver } from '../embedded/s3rver-process';
import { createLogger } from '../obs/logger';
import { startMount } from '../mount/mount-session';
import { die } from './exit';

/** The embedded default: a local S3 server with a sample dataset, mounted and ready to ls. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('start a local S3 server with a sample dataset and mount it (Ctrl-C stops both)')
    .option('--mountpoint <dir>', 'where to mount', './mnt')
    .option('--data-dir <dir>', 'where the local S3 server keeps its objects and the cache lives', './.cachalot-demo')
    .option('--port <port>', 'local S3 server port (0 picks a free one)', '0')
    .action(async (flags: { mountpoint: string; dataDir: string; port: string }) => {
      const mountpoint = resolve(flags.mountpoint);
      const dataDir = resolve(flags.dataDir);
      mkdirSync(mountpoint, { recursive: true });
      const log = createLogger(process.env.CACHALOT_LOG_LEVEL ?? 'warn');
      const s3 = await startS3rver({ directory: resolve(dataDir, 's3'), port: Number(flags.port), buckets: [SAMPLE_BUCKET] });
      try {
        const { uploaded } = await seedSampleDataset(s3.endpoint);
        Object.assign(process.env, { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey });
        const config = loadMountConfig({
          uri: `s3://${SAMPLE_BUCKET}`,
          mountpoint,
          // Self-contained: not the host's /etc/cachalot/cachalot.toml.
          configFile: null,
          env: {},
          flags: { endpoint: s3.endpoint, cache_dir: resolve(dataDir, 'cache') },
        });
        const session = await startMount(config, log);
        process.stdout.write(
          [
            `cachalot: s3://${SAMPLE_BUCKET} (local S3 at ${s3.endpoint}${uploaded ? `, ${uploaded} sample objects uploaded` : ''}) is mounted at ${mountpoint}`,
            'Try, in another terminal:',
            `  ls -l ${mountpoint} ${mountpoint}/train`,
            `  ls ${mountpoint}/images/cat | head`,
            `  dd if=${mountpoint}/train/shard-0000.tar of=/dev/null bs=1M`,
            `  head -3 ${mountpoint}/images/labels.csv`,
            'Press Ctrl-C to unmount and stop.',
            '',
          ].join('\n'),
        );
        const shutdown = () => void session.stop();
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
        await session.ended;
        process.stdout.write('cachalot: unmounted\n');
      } catch (err) {
        await s3.stop();
        die(err);
      }
      await s3.stop();
      process.exit(0);
    });
}
