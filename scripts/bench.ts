// `npm run bench`: cachalot, rclone mount and s3fs side by side, in one run,
// against one local s3rver origin seeded once; absolute figures and ratios.
// A benchmark, not a test: it exits 0 when it measured, whatever the figures.
// See docs/BENCHMARKS.md for what is measured and how to read it.
//
//   npm run bench -- [--rounds N] [--tools cachalot,rclone,s3fs] [--require-all]
//                    [--json FILE] [--cold-origin]
//                    [--cachalot-arg ARG ...] [--baseline CHECKOUT] [--cpu-prof DIR] [--time-limit MIN] [--wait-quiet SEC]
//                    [--measure-timeout SEC] [--only cold|warm|cluster|warmup|local|write]
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { S3RVER_CREDENTIALS, startS3rver } from '../src/embedded/s3rver-process';
import { isMounted } from '../src/mount/mountpoint';
import { S3Store } from '../src/object/s3-store';
import { cacheRatios, cacheReuseNotes, cacheTable, memoryTable } from './bench/cache-report';
import { ASKER_ARGS, ClusterBench, OWNER_ARGS, emptyClusterSamples } from './bench/cluster';
import { clusterRatios, clusterTable } from './bench/cluster-report';
import { WarmupBench, emptyWarmupSamples, warmupRatios, warmupTable } from './bench/warmup';
import { LOCAL_CONFIGS, LocalBench, emptyLocalSamples, localRatios, localTable } from './bench/local';
import { WriteBench, emptyWriteSamples, writeRatios, writeTable } from './bench/write';
import { BUCKET, FULL_SHAPE, MiB, makeDataset, seedDataset, writePlainCopy } from './bench/dataset';
import { Parts, memoryArgs, memoryFlow, plainFlow, toolFlows } from './bench/flows';
import { RangeFetcher, originDirect, sdkRangeFetcher } from './bench/measure';
import { ForeignCpu, machineBusySec, owned, procStats, selfCpuSec, since, sleep } from './bench/procs';
import { DIGITS, MEASURES, MEASURE_UNIT, MEMORY_CHECK, Measure, Row, Sample, emptySamples, medianOf, ratioTable, ratios, summaryTable, toolTable } from './bench/report';
import { Session } from './bench/session';
import { TOOL_NAMES, Tool, ToolName, baselineTool, cachalotTool, fuseAvailable, installedVersion, localDir, rcloneTool, s3fsTool } from './bench/tools';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * Origin-direct configurations; the best median of them is the ceiling. Two
 * clients: the aws-sdk, and cachalot's own ranged GET (S3Store), so that the
 * ceiling is the fastest way this machine knows to read the origin. With
 * more GETs in flight too: an origin may serve more than 8 at once faster,
 * and the ceiling must not be lower than what some client gets.
 */
type OriginClient = 'aws-sdk' | 'cachalot GET';
const ORIGIN_CONFIGS: Array<{ client: OriginClient; rangeBytes: number; parallel: number }> = [
  { client: 'aws-sdk', rangeBytes: 8 * MiB, parallel: 8 },
  { client: 'aws-sdk', rangeBytes: 16 * MiB, parallel: 8 },
  { client: 'cachalot GET', rangeBytes: 8 * MiB, parallel: 8 },
  { client: 'cachalot GET', rangeBytes: 16 * MiB, parallel: 8 },
  { client: 'cachalot GET', rangeBytes: 16 * MiB, parallel: 16 },
  { client: 'cachalot GET', rangeBytes: 16 * MiB, parallel: 24 },
];

interface Options {
  rounds: number;
  tools: ToolName[];
  requireAll: boolean;
  json?: string;
  coldOrigin: boolean;
  cachalotArgs: string[];
  /** A checkout of an earlier build, measured beside this one (cold and cache flows). */
  baseline?: string;
  cpuProf?: string;
  timeLimitMin: number;
  waitQuietSec: number;
  measureTimeoutMs: number;
  parts: Parts;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      tools: { type: 'string', default: TOOL_NAMES.join(',') },
      'require-all': { type: 'boolean', default: false },
      json: { type: 'string' },
      'cold-origin': { type: 'boolean', default: false },
      'cachalot-arg': { type: 'string', multiple: true, default: [] },
      baseline: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'time-limit': { type: 'string', default: '20' },
      'wait-quiet': { type: 'string', default: '0' },
      'measure-timeout': { type: 'string', default: '180' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench -- [--rounds N] [--tools cachalot,rclone,s3fs] [--require-all] [--json FILE]\n' +
        '                        [--cold-origin] [--cachalot-arg ARG ...] [--baseline CHECKOUT] [--cpu-prof DIR] [--time-limit MIN]\n' +
        '                        [--wait-quiet SEC] [--measure-timeout SEC] [--only cold|warm|cluster|warmup|local|write]\n' +
        '  --only cold: only the cold measurements (origin direct, cold seq, small files, ls -l)\n' +
        '  --only warm: only the cache ones (plain file, re-read, warm seq, warm small files, memory check),\n' +
        '               with the cold seq and small-file reads that fill the caches\n' +
        '  --only cluster: only the cluster ones (meta and cachalot nodes on this machine: the peer read\n' +
        "               beside the owner's own warm read; S3 traffic of 1, 2 and 3 nodes reading the same data)\n" +
        '  --only warmup: only origin direct and `cachalot warmup` of the big object (one mount; a 3-node cluster)\n' +
        '  --only local: only warm reads from the disk tier (FUSE passthrough) beside the plain files\n' +
        '  --only write: only a 2 GiB sequential write through each mount, beside the origin written directly\n' +
        '  --baseline CHECKOUT: also measure the cachalot built in another checkout (an earlier commit), beside this one\n',
    );
    process.exit(0);
  }
  const tools = values.tools!.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of tools) if (!TOOL_NAMES.includes(t as ToolName)) throw new Error(`--tools: unknown tool "${t}" (${TOOL_NAMES.join(', ')})`);
  if (values.only !== undefined && !['cold', 'warm', 'cluster', 'warmup', 'local', 'write'].includes(values.only)) throw new Error('--only: expected cold, warm, cluster, warmup, local or write');
  const int = (v: string, what: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what}: expected an integer from ${min} to ${max}`);
    return n;
  };
  return {
    rounds: int(values.rounds!, '--rounds', 1, 10),
    tools: tools as ToolName[],
    requireAll: values['require-all']!,
    json: values.json,
    coldOrigin: values['cold-origin']!,
    cachalotArgs: values['cachalot-arg']!,
    baseline: values.baseline ? resolve(values.baseline) : undefined,
    cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined,
    timeLimitMin: int(values['time-limit']!, '--time-limit', 1, 120),
    waitQuietSec: int(values['wait-quiet']!, '--wait-quiet', 0, 3600),
    measureTimeoutMs: int(values['measure-timeout']!, '--measure-timeout', 5, 3600) * 1000,
    parts: {
      cold: values.only === undefined || values.only === 'cold',
      warm: values.only === undefined || values.only === 'warm',
      cluster: values.only === undefined || values.only === 'cluster',
      warmup: values.only === undefined || values.only === 'warmup',
      local: values.only === undefined || values.only === 'local',
      write: values.only === undefined || values.only === 'write',
    },
  };
}

/** ", other cpu X s" when processes other than ours used more than a tenth of a core during a measurement. */
const otherCpu = (s: Sample) =>
  s.foreignCpuSec !== undefined && s.seconds && s.foreignCpuSec / s.seconds > 0.1 ? `, **other cpu ${s.foreignCpuSec.toFixed(1)} s**` : '';

const say = (line = '') => process.stdout.write(line + '\n');
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);

function machine(): string {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, node ${process.version}`;
}

/** Exit code of a run that was stopped (signal, time limit). */
let abortCode: number | undefined;

async function main(): Promise<number> {
  const options = parseOptions();
  const startedAt = process.hrtime.bigint();
  const notes = new Set<string>();

  // Stopping: nothing new starts (owned.closed), what runs is unmounted and ended
  // at once so that the run unwinds and reports what it has; a second signal, or
  // a run that does not unwind within 90 s, cleans up again and exits.
  const abort = (why: string, code: number) => {
    if (owned.closed) {
      progress(`${why} again; cleaning up and exiting`);
      void owned.cleanup().finally(() => process.exit(code));
      return;
    }
    owned.close();
    abortCode = code;
    progress(`${why}; stopping and cleaning up`);
    void owned.cleanup();
    setTimeout(() => void owned.cleanup().finally(() => process.exit(code)), 90_000).unref();
  };
  process.on('SIGINT', () => abort('interrupted', 130));
  process.on('SIGTERM', () => abort('terminated', 143));
  const deadline = setTimeout(() => abort(`time limit of ${options.timeLimitMin} min reached`, 2), options.timeLimitMin * 60_000);
  deadline.unref();

  // Preflight: say at once what cannot run, before a minute of seeding.
  const fuse = fuseAvailable();
  if (fuse) throw new Error(fuse);
  if (process.getuid?.() !== 0) notes.add('not running as root: dropping the page cache will fail (run as root for cold figures)');
  const versions = new Map<ToolName, string>();
  for (const name of options.tools) {
    if (name === 'cachalot' || name === 'cachalot baseline') continue;
    const version = await installedVersion(name);
    if (version) versions.set(name, version);
    else {
      const install = 'bash scripts/setup.sh --bench installs rclone and s3fs';
      if (options.requireAll) throw new Error(`${name} is not installed and --require-all was given (${install})`);
      const message = `${name} is not installed: SKIPPED, its figures and ratios are missing (${install})`;
      notes.add(message);
      progress(`NOTE: ${message}`);
    }
  }

  // A shared machine skews every figure: say how busy it is before starting (and wait for quiet if asked).
  const quiet = await waitForQuiet(options.waitQuietSec);
  if (quiet > 0.1) {
    const message = `the machine was busy before the start: other processes used ${(quiet * 100).toFixed(0)}% of a core`;
    notes.add(message);
    progress(`NOTE: ${message}`);
  }

  const workDir = mkdtempSync(join(tmpdir(), 'cachalot-bench-'));
  owned.onFinal(async () => rmSync(workDir, { recursive: true, force: true }));
  const originDir = join(workDir, 'origin');
  if (options.cpuProf) mkdirSync(options.cpuProf, { recursive: true });

  progress('generating the dataset');
  const mark = process.hrtime.bigint();
  const dataset = makeDataset(FULL_SHAPE);
  progress(`starting s3rver and seeding (${(FULL_SHAPE.bigBytes / MiB).toFixed(0)} MiB + ${FULL_SHAPE.smallCount} x ${FULL_SHAPE.smallBytes / 1024} KiB + ${FULL_SHAPE.listCount} entries)`);
  owned.assertOpen();
  const server = await startS3rver({ directory: originDir, buckets: [BUCKET] });
  owned.addPid(server.pid);
  owned.onFinal(() => server.stop());
  const seedClient = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  await seedDataset(seedClient, dataset);
  seedClient.destroy();
  const seedSec = since(mark);
  progress(`seeded in ${seedSec.toFixed(1)} s`);

  // The origin-direct client is set up as the daemon sets up its own: keep-alive sockets. Two
  // attempts: s3rver closes a socket idle for 5 s, and one taken from the pool as it closes failed
  // a sample with "socket hang up" (cachalot's GET client sends such a request again itself).
  const originClient = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
  owned.onFinal(async () => originClient.destroy());
  const originStore = new S3Store({ bucket: BUCKET, endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS, requestTimeoutMs: 30_000, maxSockets: 64 });
  const fetchers: Record<OriginClient, RangeFetcher> = {
    'aws-sdk': sdkRangeFetcher(originClient, dataset.bigKey),
    'cachalot GET': async (start, end) => (await originStore.getRange({ key: dataset.bigKey, start, end }))[0],
  };

  const ctx = {
    endpoint: server.endpoint,
    workDir,
    cachalotEnv: {
      ...process.env,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  };
  const tools: Tool[] = [];
  for (const name of options.tools) {
    if (name === 'cachalot') tools.push(cachalotTool(ctx, options.cachalotArgs, options.cpuProf));
    else if (versions.has(name)) tools.push((name === 'rclone' ? rcloneTool : s3fsTool)(ctx, versions.get(name)!));
  }
  if (options.baseline) tools.push(baselineTool(ctx, options.baseline));
  const { parts } = options;
  const rows: Row[] = tools.map((t) => ({ name: t.name, version: t.version, options: t.options, samples: emptySamples() }));
  const originRuns = ORIGIN_CONFIGS.map((c) => ({ ...c, label: `${c.client}, ${c.rangeBytes / MiB} MiB x ${c.parallel}`, samples: [] as Sample[] }));
  // The limits of this machine: the big object as a plain file next to the tools' cache directories.
  const limits: Row = { name: 'plain file', version: '', options: '', samples: emptySamples() };
  const plainDir = join(workDir, 'plain');
  if (parts.warm || parts.local) {
    progress('writing the plain files');
    writePlainCopy(plainDir, dataset);
  }
  const memoryTool = parts.warm && tools.some((t) => t.name === 'cachalot') ? cachalotTool(ctx, [...options.cachalotArgs, ...memoryArgs()], options.cpuProf) : undefined;

  const projectRoot = resolve(__dirname, '../..');
  const session = new Session({
    originDir,
    originPid: server.pid,
    programFiles: [process.execPath, join(projectRoot, 'node_modules'), join(projectRoot, 'dist')],
    coldOrigin: options.coldOrigin,
    measureTimeoutMs: options.measureTimeoutMs,
    notes,
  });
  // Tool flows run for the cold and cache parts; a cluster-only run has none.
  const flows = parts.cold || parts.warm ? toolFlows(dataset, parts, options.measureTimeoutMs) : [];
  const cachalot = tools.find((t) => t.name === 'cachalot');
  // The warm-up part starts its cluster as the cluster part does.
  const clusters = cachalot && (parts.cluster || parts.warmup) ? new ClusterBench(ctx, session, dataset, server.pid, options.measureTimeoutMs) : undefined;
  const cluster = parts.cluster ? clusters : undefined;
  const clusterSamples = emptyClusterSamples();
  /** The big object read directly as a sample: MB/s, or the error. */
  const originSample = (fetch: RangeFetcher, rangeBytes: number, parallel: number): Promise<Sample> =>
    originDirect(fetch, dataset, rangeBytes, parallel).then(
      (r): Sample => ({ value: r.mbps, seconds: r.seconds }),
      (err: Error): Sample => ({ error: err.message }),
    );
  // The warm-up's yardstick, read just before each measured warm-up: its own GETs (cachalot's, 16 MiB)
  // and as many in flight as a warm-up's default --parallel 16 keeps per node (8).
  const readOrigin = () => originSample(fetchers['cachalot GET'], 16 * MiB, 8);
  const warmup = parts.warmup && clusters ? new WarmupBench(ctx, session, dataset, server.pid, clusters, readOrigin) : undefined;
  const warmupSamples = emptyWarmupSamples();
  const local = parts.local && cachalot ? new LocalBench(ctx, session, dataset, plainDir, options.cachalotArgs) : undefined;
  const localSamples = emptyLocalSamples();
  const writes = parts.write ? new WriteBench(workDir, session, originClient, originStore) : undefined;
  const writeSamples = emptyWriteSamples();
  // Warm-up is measured against the origin's own parallel GETs of the same run.
  const measureOrigin = parts.cold || warmup !== undefined;
  const record = (row: Row, results: Array<[Measure, Sample]>) => {
    for (const [measure, sample] of results) {
      row.samples[measure].push(sample);
      const fig = sample.error ? `FAILED (${sample.error})` : `${sample.value!.toFixed(DIGITS[measure])} ${MEASURE_UNIT[measure]}`;
      const cpu = sample.daemonCpuSec !== undefined ? `, daemon cpu ${sample.daemonCpuSec.toFixed(1)} s` : '';
      const sent = sample.originSentBytes !== undefined ? `, origin sent ${(sample.originSentBytes / MiB).toFixed(1)} MiB` : '';
      const rss = measure === 'mem4' && sample.peakRssMiB !== undefined ? `, peak RSS ${sample.peakRssMiB.toFixed(0)} MiB` : '';
      progress(`  ${row.name} ${measure}: ${fig}${cpu}${sent}${rss}`);
    }
  };

  // One unrecorded pass, so that the origin-direct client's first round is not its JIT warm-up.
  if (measureOrigin) for (const fetch of Object.values(fetchers)) await originDirect(fetch, dataset, 8 * MiB, 8).catch(() => {});

  for (let round = 0; round < options.rounds && !owned.closed; round++) {
    progress(`round ${round + 1}/${options.rounds}`);
    if (measureOrigin) session.makeCold('big');
    for (const config of measureOrigin ? originRuns : []) {
      if (owned.closed) break;
      const originCpu0 = procStats(server.pid)?.cpuSec;
      const foreign = new ForeignCpu(() => [server.pid]);
      foreign.begin();
      const o = await originSample(fetchers[config.client], config.rangeBytes, config.parallel);
      const originCpu1 = procStats(server.pid)?.cpuSec;
      if (originCpu0 !== undefined && originCpu1 !== undefined) o.originCpuSec = originCpu1 - originCpu0;
      o.foreignCpuSec = foreign.end();
      config.samples.push(o);
      progress(`  origin direct ${config.label}: ${o.error ?? `${o.value!.toFixed(0)} MB/s`}`);
    }
    if (parts.warm && !owned.closed) record(limits, await session.run(localDir(plainDir), plainFlow(dataset)));
    // Rotate the order each round so that drift over the run does not favour one tool.
    const order = tools.map((_, i) => tools[(i + round) % tools.length]);
    for (const tool of order) {
      const row = rows.find((r) => r.name === tool.name)!;
      for (const flow of flows) if (!owned.closed) record(row, await session.run(tool, flow));
      if (tool.name === 'cachalot' && memoryTool && !owned.closed) record(row, await session.run(memoryTool, memoryFlow(dataset)));
    }
    if (cluster && !owned.closed) await cluster.round(clusterSamples, progress);
    if (warmup && !owned.closed) await warmup.round(cachalot!, warmupSamples, progress);
    if (local && !owned.closed) await local.round(localSamples, progress);
    if (writes && !owned.closed) await writes.round(tools.filter((t) => t.name !== 'cachalot baseline'), writeSamples, progress);
  }
  const totalSec = since(startedAt);
  const best = originRuns.reduce((a, b) => ((medianOf(b.samples) ?? -1) > (medianOf(a.samples) ?? -1) ? b : a));
  const origin = best.samples;
  const busiest = [...originRuns.flatMap((r) => r.samples), ...[limits, ...rows].flatMap((r) => MEASURES.flatMap((m) => r.samples[m]))]
    .map((s) => (s.foreignCpuSec ?? 0) / (s.seconds || Infinity))
    .reduce((a, b) => Math.max(a, b), 0);
  if (abortCode !== undefined) notes.add('the run was STOPPED before the end: the figures are partial');
  if (busiest > 0.1) {
    notes.add(`other processes ran during some measurements (up to ${(busiest * 100).toFixed(0)}% of a core; cells marked "other"): those figures are unreliable, rerun on a quiet machine`);
  }
  const { bigBytes, smallCount, smallBytes } = FULL_SHAPE;
  for (const n of cacheReuseNotes(rows, { warmSeq: bigBytes, warmSmall: smallCount * smallBytes })) notes.add(n);

  // The report (Markdown, so that docs/BENCHMARKS.md can take it as it is).
  say();
  say(`## cachalot bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  say();
  say(`- machine: ${machine()}`);
  say(`- origin: s3rver 3.7.1 on 127.0.0.1 (one process), seeded once: 1 x ${FULL_SHAPE.bigBytes / MiB} MiB, ${FULL_SHAPE.smallCount} x ${FULL_SHAPE.smallBytes / 1024} KiB in one folder, ${FULL_SHAPE.listCount} small entries in one folder (seeding took ${seedSec.toFixed(0)} s)`);
  say(`- cold: before every measurement the page cache is dropped (sync; echo 3 > /proc/sys/vm/drop_caches), then the programs (node, node_modules, rclone, s3fs and their libraries) are read back in${options.coldOrigin ? '' : ", and so are the origin's own files for that measurement, so the origin is warm and the client is cold"}; every measurement on a fresh mount with a fresh cache directory`);
  say(`- seq: one reader, 1 MiB read(2) calls, open to close; small: 8 reader threads, whole files; ls: \`ls -l\` child process, spawn to exit; every byte read is checked`);
  if (measureOrigin) {
    say(`- origin direct: the big object by parallel ranged GETs, with the aws-sdk v3 (keep-alive sockets) and with cachalot's own GET client (S3Store), client, range size x GETs in flight: ${originRuns.map((r) => r.label).join('; ')}; the best median (${best.label}) is the ceiling`);
  }
  if (parts.warm) {
    say(`- cache: after each cold read, re-read = the same file again at once on the same mount, nothing dropped; warm = unmount, drop the page cache (and read the programs and the origin's files back in, as for cold), mount again on the same cache directory, read again (seq: one reader; small: 8 readers); origin sent = bytes the origin process wrote to its sockets during the read (/proc/PID/io wchar), which shows whether a tool served the read from its cache`);
    say(`- limits: the big object as a plain file on ${filesystemOf(plainDir)}, the filesystem of every tool's cache directory; cold (page cache dropped) and re-read at once, same reader`);
    say(`- memory: cachalot with --ram-cache ${MEMORY_CHECK.ramCacheMiB}MiB, ${MEMORY_CHECK.readers} reader threads each reading the whole big file at once, cold; the daemon's peak RSS (VmHWM) against ${MEMORY_CHECK.ramCacheMiB} + ${MEMORY_CHECK.headroomMiB} MiB`);
  }
  if (cluster) {
    say(`- cluster: \`cachalot meta\` and cachalot nodes (foreground daemons, each its own mountpoint, cache directory and peer port) on this machine over 127.0.0.1, sharing its ${cpus().length} cores; owner: ${OWNER_ARGS.join(' ')}; asker: ${ASKER_ARGS.join(' ') || 'defaults'}, without --peer-listen (it owns no block); the owner fills its NVMe tier by a cold read (alone, it owns every block), is mounted again (RAM tier empty), then reads the big file itself (page cache dropped), is mounted again, and a fresh asker reads it (page cache dropped), each block asked of the owner; then 1, 2 and 3 fresh nodes (${OWNER_ARGS.join(' ')}) read it at once from a cold cluster, and S3 sent = what the origin process wrote to its sockets`);
  }
  if (warmup) {
    say(`- warmup: \`cachalot warmup --json\` of the big object from an empty cache, through a fresh mount (${cachalot!.options}) and through a fresh cluster of 3 nodes (${OWNER_ARGS.join(' ')}) on this machine: the daemons' first warm-up, then three times \`cachalot evict\` of the object, origin direct (cachalot GET, 16 MiB x 8) and the next warm-up, which is compared with that origin read (whose client read the object once unrecorded before the first round, so that no round measures its JIT warm-up); MB/s = the object's bytes over the seconds the report gives (listing included, process start not), page cache dropped before each, origin warm as for origin direct`);
  }
  if (writes) {
    say(`- write: a 2 GiB local file (random bytes, in the page cache) written through each fresh mount with \`dd bs=1M\`, timed until the object is whole in S3 (a tool that uploads after close is waited for); beside the origin written directly by one process (cachalot's S3 client: multipart, 16 MiB parts x 16 in flight, from the file); each object checked (size, 16 sampled ranges) and deleted; daemon CPU and peak RSS over the write`);
  }
  if (local) {
    say(`- local: warm reads from the disk tier, cachalot beside the same bytes as plain files on the same filesystem; per configuration (${LOCAL_CONFIGS.map((c) => c.label).join('; ')}) and round, a fresh mount fills its disk tier (\`cachalot warmup\` of the big file and the small ones), then a new daemon on that cache directory reads: the big file (first read after the restart: the check of every block before the kernel first reads a file in a daemon's life), again (1 MiB reads), with 128 KiB reads, again at once (page cache), and the small files by 8 readers (after one unmeasured pass); each read paired with the same read of plain files, in alternating order: for the big file the disk tier's own file of it read directly (the same blocks: this VM's disk speed depends on what the host caches), for the small files plain copies on the same filesystem; page cache dropped before each but the re-read; daemon CPU over each read; ratios are medians of the pairs`);
  }
  say(`- ${options.rounds} round(s), tool order rotated each round; figures are medians (min-max); MB/s is 10^6 bytes/s; total run ${(totalSec / 60).toFixed(1)} min`);
  for (const t of tools) say(`- ${t.version}: ${t.options}`);
  for (const n of notes) say(`- NOTE: ${n}`);
  say();
  say('### Figures');
  say();
  say(summaryTable(rows, parts.cold ? { label: `origin direct (${best.label})`, samples: origin } : undefined));
  say();
  if (parts.warm) {
    say('### Cache');
    say();
    say(cacheTable(limits, rows));
    say();
    if (memoryTool) {
      say(memoryTable(rows));
      say();
    }
  }
  if (cluster) {
    say('### Cluster');
    say();
    say(clusterTable(clusterSamples, FULL_SHAPE.bigBytes));
    say();
  }
  if (warmup) {
    say('### Warm-up');
    say();
    say(warmupTable(warmupSamples, origin));
    say();
  }
  if (writes) {
    say('### Writes');
    say();
    say(writeTable(writeSamples));
    say();
  }
  if (local) {
    say('### Warm reads from the disk tier');
    say();
    say(localTable(localSamples, dataset));
    say();
  }
  say('### Per tool, round by round');
  say();
  if (measureOrigin) {
    say(originTable(originRuns));
    say();
  }
  for (const row of parts.warm ? [limits, ...rows] : rows) {
    say(toolTable(row));
    say();
  }
  say('### Ratios');
  say();
  const list = [
    ...(parts.cold ? ratios(origin, rows) : []),
    ...(parts.warm ? cacheRatios(limits, rows) : []),
    ...(cluster ? clusterRatios(clusterSamples) : []),
    ...(warmup ? warmupRatios(warmupSamples, origin) : []),
    ...(local ? localRatios(localSamples, dataset) : []),
    ...(writes ? writeRatios(writeSamples, 1024) : []),
  ];
  say(ratioTable(list));
  say();

  if (options.json) {
    writeFileSync(options.json, JSON.stringify({ machine: machine(), options, dataset: FULL_SHAPE, notes: [...notes], origin: originRuns, limits, rows, cluster: { ...clusterSamples, s3Traffic: Object.fromEntries(clusterSamples.s3Traffic) }, warmup: warmupSamples, local: localSamples, write: writeSamples, ratios: list, totalSec }, null, 2) + '\n');
    progress(`results written to ${options.json}`);
  }
  if (options.cpuProf) progress(`cachalot CPU profiles in ${options.cpuProf} (open in Chrome DevTools or speedscope)`);
  clearTimeout(deadline);
  const cachalotRow = rows.find((r) => r.name === 'cachalot');
  if (abortCode !== undefined) return abortCode;
  const localFailed = Object.values(localSamples).some((p) => Object.values(p.cachalot).some((samples) => samples.some((s) => s.error)));
  const writeFailed = [...writeSamples.origin, ...(writeSamples.tools.cachalot ?? [])].some((s) => s.error);
  const failed = originRuns.some((r) => r.samples.some((s) => s.error)) || (cachalotRow ? MEASURES.some((m) => cachalotRow.samples[m].some((s) => s.error)) : false) || localFailed || writeFailed;
  return failed ? 1 : 0;
}

/** "SOURCE (FSTYPE, mounted at TARGET)" of the filesystem that holds path. */
function filesystemOf(path: string): string {
  try {
    const [source, fstype, target] = execFileSync('df', ['--output=source,fstype,target', path], { encoding: 'utf8' }).trim().split('\n')[1].trim().split(/\s+/);
    return `${source} (${fstype}, mounted at ${target})`;
  } catch {
    return 'the filesystem of the work directory';
  }
}

/**
 * Share of one core that processes other than this one used over a short
 * sample, after waiting up to maxWaitSec for it to fall below 10%.
 */
async function waitForQuiet(maxWaitSec: number): Promise<number> {
  const deadline = Date.now() + maxWaitSec * 1000;
  for (let round = 0; round < 10_000; round++) {
    const m0 = machineBusySec();
    const s0 = selfCpuSec();
    await sleep(2000);
    const share = Math.max(0, machineBusySec() - m0 - (selfCpuSec() - s0)) / 2;
    if (share <= 0.1 || Date.now() >= deadline) return share;
    if (round === 0) progress(`waiting up to ${maxWaitSec} s for the machine to be quiet (others use ${(share * 100).toFixed(0)}% of a core)`);
  }
  return NaN;
}

function originTable(runs: Array<{ label: string; samples: Sample[] }>): string {
  const rounds = Math.max(...runs.map((r) => r.samples.length));
  const cell = (s: Sample) =>
    s.error ? `failed: ${s.error}` : `${s.value!.toFixed(0)}${s.originCpuSec !== undefined ? `, origin cpu ${s.originCpuSec.toFixed(1)} s` : ''}${otherCpu(s)}`;
  return [
    `| origin direct, MB/s | ${Array.from({ length: rounds }, (_, i) => `round ${i + 1}`).join(' | ')} | median |`,
    `| --- | ${Array.from({ length: rounds }, () => '---').join(' | ')} | --- |`,
    ...runs.map((r) => `| ${r.label} | ${r.samples.map(cell).join(' | ')} | ${medianOf(r.samples)?.toFixed(0) ?? 'n/a'} |`),
  ].join('\n');
}

main()
  .then(
    (code) => code,
    (err: Error) => {
      process.stderr.write(`bench: ${err.message}\n`);
      return abortCode ?? 1;
    },
  )
  .then(async (code) => {
    await owned.cleanup();
    // Nothing of ours may be left: say so loudly if it is.
    const left: string[] = [];
    for (const path of owned.everMounted) if (await isMounted(path).catch(() => false)) left.push(path);
    if (left.length > 0) process.stderr.write(`bench: WARNING: still mounted: ${left.join(', ')}\n`);
    process.exit(code);
  });
