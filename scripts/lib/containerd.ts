/**
 * A private containerd (own root, state and sockets in a temp dir) driven through `ctr`.
 *
 * Pulling a non-host platform: in this VM (kernel 6.18, ext4 /tmp, containerd 1.6.20) plain
 *
 *   ctr --address <sock> images pull --plain-http --platform linux/arm64 127.0.0.1:PORT/name:tag
 *
 * succeeds with either the default overlayfs snapshotter or `--snapshotter native`: unpacking a
 * foreign layer is only file extraction, nothing is executed. A platform absent from the index
 * fails with "no match for platform in manifest". `pullPlatform` implements this invocation.
 * Every `ctr` call here still uses the native snapshotter (CONTAINERD_SNAPSHOTTER=native): it
 * needs no overlay mounts, so it also works where the temp dir itself is on overlayfs (as in a
 * Docker CI container), which the kernel refuses as an overlay upper dir. `ctr images check` reports a foreign-platform pull as incomplete
 * because it only checks the host platform; look for the manifest in `ctr content ls` instead.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { has, run, runOrThrow, startDaemon, tempDir } from './process.js';

export interface Containerd {
  /** The containerd gRPC socket path. */
  address: string;
  /** containerd's process id, for resource readings. */
  pid: number;
  /** Runs `ctr --address <sock> ...args`; returns stdout, throws with stderr on failure. */
  ctr(args: string[]): Promise<string>;
  /** Pulls and unpacks one platform (e.g. "linux/arm64") of `ref` from a plain-HTTP registry. */
  pullPlatform(ref: string, platform: string): Promise<void>;
  /** Stops containerd and removes its temp dir. */
  stop(): Promise<void>;
}

/** Null when containerd or ctr is not installed, or when not root (containerd needs it). */
export async function startContainerd(): Promise<Containerd | null> {
  if (!has('containerd') || !has('ctr') || process.getuid?.() !== 0) return null;
  const dir = await tempDir('airlift-containerd-');
  const address = join(dir, 'containerd.sock');
  const configFile = join(dir, 'config.toml');
  const ctr = (args: string[]) => runOrThrow('ctr', ['--address', address, ...args], { env: { CONTAINERD_SNAPSHOTTER: 'native' } });
  // ctr blocks for 10 s by default when the socket is not there yet.
  const responds = async () => (await run('ctr', ['--address', address, '--connect-timeout', '1s', 'version'])).code === 0;

  try {
    await writeFile(configFile, configToml(dir, address));
    const daemon = startDaemon('containerd', ['--config', configFile], join(dir, 'containerd.log'));
    await daemon.waitUntil(responds, 15_000);
    return {
      address,
      pid: daemon.pid,
      ctr,
      async pullPlatform(ref, platform) {
        await ctr(['images', 'pull', '--plain-http', '--platform', platform, ref]);
      },
      async stop() {
        await daemon.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Everything lives under `dir`. Disabled: CRI (needs CNI and would listen for kubelets), the
 * `opt` plugin (creates /opt/containerd) and snapshotters that only log errors here.
 */
function configToml(dir: string, address: string): string {
  const disabled = [
    'io.containerd.grpc.v1.cri',
    'io.containerd.internal.v1.opt',
    'io.containerd.snapshotter.v1.aufs',
    'io.containerd.snapshotter.v1.btrfs',
    'io.containerd.snapshotter.v1.devmapper',
    'io.containerd.snapshotter.v1.zfs',
  ];
  const str = JSON.stringify; // a JSON string is a valid TOML basic string
  return [
    'version = 2',
    `root = ${str(join(dir, 'root'))}`,
    `state = ${str(join(dir, 'state'))}`,
    `disabled_plugins = ${str(disabled)}`,
    '[grpc]',
    `  address = ${str(address)}`,
    '[ttrpc]',
    `  address = ${str(`${address}.ttrpc`)}`,
    '[debug]',
    '  level = "warn"',
    '',
  ].join('\n');
}
