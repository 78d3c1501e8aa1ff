// The filesystems under comparison, each mounted fresh (new mountpoint, new
// cache directory) against the same origin, and torn down by PID and path.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { isMounted, waitUntilAnswering } from '../../src/mount/mountpoint';
import { mountBucket } from '../../tests/support/mount-fixture';
import { BUCKET } from './dataset';
import { alive, endProcess, owned, track, unmountAny, waitForExit } from './procs';

const exec = promisify(execFile);

export type ToolName = 'cachalot' | 'rclone' | 's3fs';
export const TOOL_NAMES: ToolName[] = ['cachalot', 'rclone', 's3fs'];

export interface MountedTool {
  mountpoint: string;
  /** The FUSE daemon serving the mount. */
  pid: number;
  unmount(): Promise<void>;
}

export interface Tool {
  name: ToolName;
  version: string;
  /** How it is mounted, for the report. */
  options: string;
  /** Files of the program itself (binary, libraries, scripts), read back in after a page cache drop. */
  programFiles: string[];
  mount(): Promise<MountedTool>;
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
function freshDirs(ctx: ToolContext, name: string): { root: string; mountpoint: string; cacheDir: string; logFile: string } {
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
 * Starts a FUSE daemon in the foreground as our child (so its PID is known),
 * resolves once the mount answers; on any failure leaves nothing behind.
 */
async function spawnFuseDaemon(label: string, command: string, args: string[], env: NodeJS.ProcessEnv, dirs: ReturnType<typeof freshDirs>): Promise<MountedTool> {
  owned.assertOpen();
  const out = openSync(dirs.logFile, 'a');
  const child = spawn(command, args, { env, stdio: ['ignore', out, out] });
  closeSync(out);
  track(child);
  owned.addMount(dirs.mountpoint);
  const pid = child.pid!;
  const teardown = async () => {
    await exec('fusermount', ['-u', dirs.mountpoint], { timeout: 20_000 }).catch(() => {});
    if (!(await waitForExit(pid, 15_000))) await endProcess(pid);
    await unmountAny(dirs.mountpoint);
    owned.removeMount(dirs.mountpoint);
    rmSync(dirs.root, { recursive: true, force: true });
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
  return { mountpoint: dirs.mountpoint, pid, unmount: teardown };
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
    mount: async () => {
      if (cpuProfileDir) {
        // Foreground daemon under the V8 profiler; it writes its profile when it exits after the unmount.
        const dirs = freshDirs(ctx, 'cachalot');
        const main = resolve(__dirname, '../../daemon/cli-main.js');
        const args = ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir, main, 'mount', `s3://${BUCKET}`, dirs.mountpoint, '--cache-dir', dirs.cacheDir, '--log-level', 'warn', ...extraArgs, '--foreground'];
        return spawnFuseDaemon('cachalot', process.execPath, args, ctx.cachalotEnv, dirs);
      }
      owned.assertOpen();
      const m = await mountBucket(`s3://${BUCKET}`, ctx.cachalotEnv, extraArgs);
      owned.addMount(m.mountpoint);
      owned.addPid(m.pid);
      // The fixture removes its directory on unmount; after an interrupted run, do it here (once nothing is mounted there).
      const root = dirname(m.mountpoint);
      owned.onFinal(async () => {
        if (!(await isMounted(m.mountpoint).catch(() => true))) rmSync(root, { recursive: true, force: true });
      });
      // Stopped while the mount command ran: what was just registered is torn down by the final cleanup.
      owned.assertOpen();
      return {
        mountpoint: m.mountpoint,
        pid: m.pid,
        unmount: async () => {
          await m.unmount();
          if (alive(m.pid)) await endProcess(m.pid);
          await unmountAny(m.mountpoint);
          owned.removeMount(m.mountpoint);
          owned.removePid(m.pid);
        },
      };
    },
  };
}

export function rcloneTool(ctx: ToolContext, version: string): Tool {
  const configFile = join(ctx.workDir, 'rclone.conf');
  writeFileSync(configFile, '', { mode: 0o600 });
  const options = '--vfs-cache-mode full, fresh --cache-dir; other flags default';
  return {
    name: 'rclone',
    version,
    options,
    programFiles: programFiles('rclone'),
    mount: () => {
      const dirs = freshDirs(ctx, 'rclone');
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
  const options = '-o use_cache=DIR (fresh), use_path_request_style; other options default';
  return {
    name: 's3fs',
    version,
    options,
    programFiles: programFiles('s3fs'),
    mount: () => {
      const dirs = freshDirs(ctx, 's3fs');
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
