import { hostPort, logLevel, text, url } from './setting-kinds';
import type { Setting } from './setting';

/**
 * Settings that mounts, meta and the commands that call them take alike:
 * one declaration each, so their flags read and check the same everywhere.
 */

/** Where S3 is, by the AWS conventions (credentials too come from the AWS environment, profiles or instance roles). */
export const S3_ORIGIN_SETTINGS = {
  endpoint: { schema: url(), flag: '<url>', help: 'S3 endpoint URL: MinIO, Ceph, s3rver, ...', defaultText: 'AWS', env: ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'] },
  region: { schema: text(), flag: '<region>', help: 'S3 region', default: 'us-east-1', env: ['AWS_REGION', 'AWS_DEFAULT_REGION'] },
} as const satisfies Record<string, Setting>;

export const LOG_LEVEL_SETTING = {
  schema: logLevel(),
  flag: '<level>',
  help: 'JSON log level: trace, debug, info, warn, error, fatal or silent',
  default: 'info',
  env: ['CACHALOT_LOG_LEVEL'],
} as const satisfies Setting;

export const METRICS_SETTING = { schema: hostPort(), flag: '<host:port>', help: 'serve Prometheus metrics at http://HOST:PORT/metrics' } as const satisfies Setting;

export const TOKEN_FILE_SETTING = {
  schema: text(),
  flag: '<file>',
  help: 'file holding the cluster secret shared by meta, nodes and commands',
  path: true,
} as const satisfies Setting;

/** TLS to meta and between peers; none given: plain TCP (docs/CLUSTER.md#tls). */
export const TLS_SETTINGS = {
  tls_cert: {
    schema: text(),
    flag: '<file>',
    help: 'PEM certificate (chain): served with TLS, and shown to servers that ask for a client certificate; with --tls-key',
    path: true,
  },
  tls_key: { schema: text(), flag: '<file>', help: 'PEM private key of --tls-cert', path: true },
  tls_ca: {
    schema: text(),
    flag: '<file>',
    help: 'PEM CA certificates: servers called must have a certificate they signed, and when serving so must every client (mutual TLS)',
    path: true,
  },
} as const satisfies Record<string, Setting>;
