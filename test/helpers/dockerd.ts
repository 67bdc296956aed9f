/**
 * A private Docker daemon on a unix socket in a temp dir, for producing real `docker save`
 * bundles. Verified flags (dockerd 20.10.24): --storage-driver vfs, --iptables=false,
 * --ip-masq=false, --bridge=none; no network access is needed for import/save.
 *
 * dockerd is pointed at a containerd of our own (`--containerd`) rather than starting its managed
 * one: the managed containerd writes /opt/containerd and would outlive a SIGKILLed dockerd.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startContainerd } from './containerd.js';
import { has, runOrThrow, startDaemon, tempDir } from './tools.js';

export interface Dockerd {
  /** Runs `docker -H unix://<sock> ...args`; returns stdout, throws with stderr on failure. */
  docker(args: string[], input?: string | Buffer): Promise<string>;
  /** Stops dockerd and its containerd and removes their temp dirs (vfs layers can be big). */
  stop(): Promise<void>;
}

/** Null when dockerd, the docker CLI, util-linux `unshare` or containerd (see startContainerd) is unavailable. */
export async function startDockerd(): Promise<Dockerd | null> {
  if (!has('dockerd') || !has('docker') || !has('unshare')) return null;
  const containerd = await startContainerd();
  if (!containerd) return null;
  const dir = await tempDir('airlift-dockerd-');
  const host = `unix://${join(dir, 'docker.sock')}`;
  // A private client config dir keeps ~/.docker (contexts, credential helpers) out of the way.
  const env = { DOCKER_CONFIG: join(dir, 'client') };
  const docker = (args: string[], input?: string | Buffer) => runOrThrow('docker', ['-H', host, ...args], { input, env });
  const cleanUp = async () => {
    await containerd.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // In a private mount namespace, the bind mount dockerd puts on its data root vanishes with
    // dockerd even if it is SIGKILLed; on the host namespace it would be left behind, blocking rm.
    const args = ['--mount', '--propagation', 'private', '--', 'dockerd', ...(await dockerdArgs(dir, host, containerd.address))];
    const daemon = startDaemon('unshare', args, join(dir, 'dockerd.log'));
    await daemon.waitUntil(
      () =>
        docker(['info']).then(
          () => true,
          () => false,
        ),
      30_000,
    );
    return {
      docker,
      async stop() {
        await daemon.stop();
        await cleanUp();
      },
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

/** Writes the daemon config file and returns dockerd's arguments. */
async function dockerdArgs(dir: string, host: string, containerdAddress: string): Promise<string[]> {
  // The config file only relocates the trust key, which dockerd would otherwise write to /etc/docker/key.json.
  const configFile = join(dir, 'daemon.json');
  await writeFile(configFile, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
  return [
    '--config-file',
    configFile,
    '--containerd',
    containerdAddress,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '-H',
    host,
    '--storage-driver',
    'vfs',
    '--iptables=false',
    '--ip-masq=false',
    '--bridge=none',
    '--log-level',
    'warn',
  ];
}
