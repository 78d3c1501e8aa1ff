// The filesystems under comparison, each mounted fresh (new mountpoint, new
// cache directory) or again on the directories of an earlier mount (its cache
// reused), against the same origin, and torn down by PID and path.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { isMounted, waitUntilAnswering } from '../../src/mount/mountpoint';
import { runCli } from '../../tests/support/mount-fixture';
import { BUCKET } from './dataset';
import { endProcess, owned, track, unmountAny, waitForExit } from './procs';

const exec = promisify(execFile);

/** 'cachalot baseline': an earlier build of cachalot (--baseline DIR), for "no slower than before" in the same run. */
export type ToolName = 'cachalot' | 'cachalot baseline' | 'rclone' | 's3fs';
export const TOOL_NAMES: ToolName[] = ['cachalot', 'rclone', 's3fs'];

/** A mount's directories, all under the run's work directory. */
export interface MountDirs {
  root: string;
  mountpoint: string;
  cacheDir: string;
  logFile: string;
}

export interface MountedTool {
  mountpoint: string;
  /** The FUSE daemon serving the mount (0: none, a local directory). */
  pid: number;
  /** Give them to Tool.mount again to mount on the same cache directory. */
  dirs: MountDirs;
  /** Unmounts and ends the daemon; removes the directories (cache included) unless keepCache. */
  unmount(keepCache?: boolean): Promise<void>;
}

export interface Tool {
  name: ToolName;
  version: string;
  /** How it is mounted, for the report. */
  options: string;
  /** Files of the program itself (binary, libraries, scripts), read back in after a page cache drop. */
  programFiles: string[];
  /** Mounts on fresh directories, or on those of an earlier (unmounted) mount, whose cache it then finds. */
  mount(dirs?: MountDirs): Promise<MountedTool>;
  /** Bytes of S3 GETs so far by the tool's own count, when it has one (cachalot: `cachalot stats --json`). */
  s3GetBytes?(mountpoint: string): Promise<number | undefined>;
}

export interface ToolContext {
  endpoint: string;
  /** A scratch directory of this run; each mount takes a fresh subdirectory. */
  workDir: string;
  /** Env for cachalot (credentials and endpoint of the origin). */
  cachalotEnv: NodeJS.ProcessEnv;
}

/** The environment for rclone and s3fs: rclone's S3 backend refuses to start while AWS_CA_BUNDLE is set. */
function foreignEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  return env;
}

let mountSeq = 0;
export function freshDirs(ctx: ToolContext, name: string): MountDirs {
  const root = mkdtempSync(join(ctx.workDir, `${name}-${++mountSeq}-`));
  const mountpoint = join(root, 'mnt');
  const cacheDir = join(root, 'cache');
  mkdirSync(mountpoint);
  mkdirSync(cacheDir);
  return { root, mountpoint, cacheDir, logFile: join(root, 'daemon.log') };
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}

/**
 * After a mount is gone: forget it, and remove its directories (cache
 * included) unless keepCache; never while something is still mounted there.
 */
async function release(dirs: MountDirs, keepCache: boolean): Promise<void> {
  owned.removeMount(dirs.mountpoint);
  if (!keepCache && !(await isMounted(dirs.mountpoint).catch(() => true))) rmSync(dirs.root, { recursive: true, force: true });
}

/**
 * Starts a FUSE daemon in the foreground as our child (so its PID is known),
 * resolves once the mount answers; on any failure leaves nothing behind.
 */
export async function spawnFuseDaemon(label: string, command: string, args: string[], env: NodeJS.ProcessEnv, dirs: MountDirs): Promise<MountedTool> {
  owned.assertOpen();
  const out = openSync(dirs.logFile, 'a');
  const child = spawn(command, args, { env, stdio: ['ignore', out, out] });
  closeSync(out);
  track(child);
  owned.addMount(dirs.mountpoint);
  const pid = child.pid!;
  const teardown = async (keepCache = false) => {
    await exec('fusermount', ['-u', dirs.mountpoint], { timeout: 20_000 }).catch(() => {});
    if (!(await waitForExit(pid, 15_000))) await endProcess(pid);
    await unmountAny(dirs.mountpoint);
    await release(dirs, keepCache);
  };
  let onExit: () => void = () => {};
  const exited = new Promise<never>((_, reject) => {
    onExit = () => reject(new Error(`${label} exited before mounting: ${logTail(dirs.logFile)}`));
    child.once('exit', onExit);
  });
  try {
    await Promise.race([waitUntilAnswering(dirs.mountpoint, 30_000), exited]);
  } catch (err) {
    await teardown().catch(() => {});
    throw err;
  } finally {
    child.off('exit', onExit);
    exited.catch(() => {});
  }
  return { mountpoint: dirs.mountpoint, pid, dirs, unmount: teardown };
}

/** Runs a cachalot command line: this checkout's, or the launcher of another (`--baseline`). */
type Cli = (args: string[], env: NodeJS.ProcessEnv) => Promise<{ code: number | null; stdout: string; stderr: string }>;

/** `cachalot mount` as a user runs it (the daemon goes to the background); resolves once the mount answers. */
async function cachalotBackground(env: NodeJS.ProcessEnv, args: string[], dirs: MountDirs, cli: Cli = runCli): Promise<MountedTool> {
  owned.assertOpen();
  owned.addMount(dirs.mountpoint);
  const result = await cli(['mount', `s3://${BUCKET}`, dirs.mountpoint, '--cache-dir', dirs.cacheDir, '--log-level', 'warn', ...args], env);
  const pid = Number(/\(pid (\d+)/.exec(result.stdout)?.[1] ?? 0);
  owned.addPid(pid);
  const teardown = async (keepCache = false) => {
    await cli(['unmount', dirs.mountpoint], env);
    if (!(await waitForExit(pid, 10_000))) await endProcess(pid);
    await unmountAny(dirs.mountpoint);
    owned.removePid(pid);
    await release(dirs, keepCache);
  };
  if (result.code !== 0 || !pid) {
    await teardown();
    throw new Error(`cachalot mount failed (${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  // Stopped while the mount command ran: what was just registered is torn down by the final cleanup.
  owned.assertOpen();
  return { mountpoint: dirs.mountpoint, pid, dirs, unmount: teardown };
}

export function cachalotTool(ctx: ToolContext, extraArgs: string[], cpuProfileDir?: string): Tool {
  const version = (() => {
    const root = resolve(__dirname, '../../..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    let git = '';
    try {
      const head = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'daemon'], { encoding: 'utf8' }).trim() !== '';
      git = ` (git ${head}${dirty ? ' + uncommitted changes in src/ or daemon/' : ''})`;
    } catch {
      // Not a checkout: the package version says enough.
    }
    return `cachalot ${pkg.version}${git}`;
  })();
  const options = ['(defaults)', ...extraArgs].join(' ') + (cpuProfileDir ? ` [node --cpu-prof -> ${cpuProfileDir}]` : '');
  return {
    name: 'cachalot',
    version,
    options,
    // node, node_modules and dist are warmed for every measurement anyway (the origin and the bench run on them).
    programFiles: [],
    mount: (reuse) => {
      const dirs = reuse ?? freshDirs(ctx, 'cachalot');
      if (!cpuProfileDir) return cachalotBackground(ctx.cachalotEnv, extraArgs, dirs);
      // Foreground daemon under the V8 profiler; it writes its profile when it exits after the unmount.
      const main = resolve(__dirname, '../../daemon/cli-main.js');
      const args = ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir, main, 'mount', `s3://${BUCKET}`, dirs.mountpoint, '--cache-dir', dirs.cacheDir, '--log-level', 'warn', ...extraArgs, '--foreground'];
      return spawnFuseDaemon('cachalot', process.execPath, args, ctx.cachalotEnv, dirs);
    },
    s3GetBytes: async (mountpoint) => {
      const result = await runCli(['stats', mountpoint, '--json'], ctx.cachalotEnv, 20_000);
      try {
        const bytes = (JSON.parse(result.stdout) as { s3?: { getBytes?: unknown } }).s3?.getBytes;
        return typeof bytes === 'number' ? bytes : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * An earlier build of cachalot in another checkout (built there), mounted as
 * the current one is: the same run's figure of "before".
 */
export function baselineTool(ctx: ToolContext, checkout: string): Tool {
  const launcher = join(checkout, 'daemon', 'cachalot');
  if (!existsSync(launcher)) throw new Error(`--baseline: no ${launcher} (a checkout built with scripts/setup.sh)`);
  const head = execFileSync('git', ['-C', checkout, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const cli: Cli = async (args, env) => {
    try {
      const { stdout, stderr } = await exec(launcher, args, { env, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
    }
  };
  return {
    name: 'cachalot baseline',
    version: `cachalot at git ${head} (${checkout})`,
    options: '(defaults)',
    programFiles: [],
    mount: (reuse) => cachalotBackground(ctx.cachalotEnv, [], reuse ?? freshDirs(ctx, 'baseline'), cli),
  };
}

/** What a measurement mounts: a tool, or a local directory. */
export type Mountable = Pick<Tool, 'programFiles' | 'mount' | 's3GetBytes'> & { name: string };

/** A local directory read as if it were a mount: the limits of this machine, with no daemon. */
export function localDir(dir: string): Mountable {
  const dirs: MountDirs = { root: dir, mountpoint: dir, cacheDir: dir, logFile: '' };
  return { name: 'plain file', programFiles: [], mount: async () => ({ mountpoint: dir, pid: 0, dirs, unmount: async () => {} }) };
}

export function rcloneTool(ctx: ToolContext, version: string): Tool {
  const configFile = join(ctx.workDir, 'rclone.conf');
  writeFileSync(configFile, '', { mode: 0o600 });
  const options = '--vfs-cache-mode full, fresh --cache-dir (the same one again for the warm reads); other flags default';
  return {
    name: 'rclone',
    version,
    options,
    programFiles: programFiles('rclone'),
    mount: (reuse) => {
      const dirs = reuse ?? freshDirs(ctx, 'rclone');
      const args = [
        'mount', `:s3:${BUCKET}`, dirs.mountpoint,
        '--config', configFile,
        '--s3-provider', 'Other',
        '--s3-endpoint', ctx.endpoint,
        '--s3-access-key-id', 'S3RVER',
        '--s3-secret-access-key', 'S3RVER',
        '--s3-region', 'us-east-1',
        '--s3-force-path-style',
        '--vfs-cache-mode', 'full',
        '--cache-dir', dirs.cacheDir,
        '--log-level', 'NOTICE',
        '--log-file', dirs.logFile,
      ];
      return spawnFuseDaemon('rclone', 'rclone', args, foreignEnv(), dirs);
    },
  };
}

export function s3fsTool(ctx: ToolContext, version: string): Tool {
  const passwd = join(ctx.workDir, 's3fs.passwd');
  writeFileSync(passwd, 'S3RVER:S3RVER\n', { mode: 0o600 });
  const options = '-o use_cache=DIR (fresh; the same one again for the warm reads), use_path_request_style; other options default';
  return {
    name: 's3fs',
    version,
    options,
    programFiles: programFiles('s3fs'),
    mount: (reuse) => {
      const dirs = reuse ?? freshDirs(ctx, 's3fs');
      const args = [
        BUCKET, dirs.mountpoint, '-f',
        '-o', `url=${ctx.endpoint}`,
        '-o', 'use_path_request_style',
        '-o', `passwd_file=${passwd}`,
        '-o', `use_cache=${dirs.cacheDir}`,
        '-o', 'dbglevel=warn',
      ];
      return spawnFuseDaemon('s3fs', 's3fs', args, foreignEnv(), dirs);
    },
  };
}

/** The version line of an installed tool, or undefined when it is not installed. */
export async function installedVersion(name: 'rclone' | 's3fs'): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await exec(name, [name === 'rclone' ? 'version' : '--version'], { env: foreignEnv(), timeout: 20_000 });
    return ((stdout || stderr).split('\n')[0] ?? '').trim() || name;
  } catch {
    return undefined;
  }
}

/** An installed program's binary and the shared libraries it loads. */
function programFiles(name: string): string[] {
  try {
    const binary = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    const libs = execFileSync('ldd', [binary], { encoding: 'utf8' })
      .split('\n')
      .map((line) => /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)/.exec(line)?.[1])
      .filter((path): path is string => path !== undefined);
    return [binary, ...libs];
  } catch {
    return [];
  }
}

export function fuseAvailable(): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing (modprobe fuse)';
  return undefined;
}
