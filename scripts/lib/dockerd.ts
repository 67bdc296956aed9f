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
import { has, runOrThrow, startDaemon, tempDir } from './process.js';

export interface DockerdOptions {
  /** Default 'vfs', which works everywhere (also on an overlayfs temp dir); 'overlay2' is what users run. */
  storageDriver?: 'vfs' | 'overlay2';
  /** Registries ("127.0.0.1:PORT") dockerd may push to over plain HTTP. */
  insecureRegistries?: string[];
}

export interface Dockerd {
  /** Runs `docker -H unix://<sock> ...args`; returns stdout, throws with stderr on failure. */
  docker(args: string[], input?: string | Buffer): Promise<string>;
  /** What `docker` needs to reach this daemon, for callers that run the client themselves. */
  client: { args: string[]; env: Record<string, string> };
  /** dockerd's and its containerd's process ids, for resource readings. */
  pids: number[];
  /** Stops dockerd and its containerd and removes their temp dirs (vfs layers can be big). */
  stop(): Promise<void>;
}

/** Null when dockerd, the docker CLI, util-linux `unshare` or containerd (see startContainerd) is unavailable. */
export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd | null> {
  if (!has('dockerd') || !has('docker') || !has('unshare')) return null;
  const containerd = await startContainerd();
  if (!containerd) return null;
  const dir = await tempDir('airlift-dockerd-');
  const host = `unix://${join(dir, 'docker.sock')}`;
  // A private client config dir keeps ~/.docker (contexts, credential helpers) out of the way.
  const client = { args: ['-H', host], env: { DOCKER_CONFIG: join(dir, 'client') } };
  const docker = (args: string[], input?: string | Buffer) => runOrThrow('docker', [...client.args, ...args], { input, env: client.env });
  const cleanUp = async () => {
    await containerd.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // In a private mount namespace, the bind mount dockerd puts on its data root vanishes with
    // dockerd even if it is SIGKILLed; on the host namespace it would be left behind, blocking rm.
    const args = ['--mount', '--propagation', 'private', '--', 'dockerd', ...(await dockerdArgs(dir, host, containerd.address, opts))];
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
      client,
      pids: [daemon.pid, containerd.pid],
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
async function dockerdArgs(dir: string, host: string, containerdAddress: string, opts: DockerdOptions): Promise<string[]> {
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
    opts.storageDriver ?? 'vfs',
    ...(opts.insecureRegistries ?? []).flatMap((registry) => ['--insecure-registry', registry]),
    '--iptables=false',
    '--ip-masq=false',
    '--bridge=none',
    '--log-level',
    'warn',
  ];
}
