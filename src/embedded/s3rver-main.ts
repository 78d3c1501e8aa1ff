// Runs s3rver in its own process, which must be started with
// --openssl-legacy-provider: s3rver 3.7.1 makes ListObjectsV2 continuation
// tokens with DES, which Node 17+ refuses otherwise (docs/S3RVER.md).
// argv[2]: JSON { directory, port, buckets }. Prints {"port":N} once listening.
import S3rver from 's3rver';

const { directory, port, buckets } = JSON.parse(process.argv[2]) as { directory: string; port: number; buckets: string[] };
const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
server.run().then(
  (address: { port: number }) => process.stdout.write(JSON.stringify({ port: address.port }) + '\n'),
  (err: Error) => {
    process.stderr.write(`s3rver: ${err.message}\n`);
    process.exit(1);
  },
);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
