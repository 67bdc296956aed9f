/**
 * The benchmark's contenders. Each starts from a fresh registry (stopped afterwards), runs its
 * whole flow under the wall clock, checks the registry holds every image as a multi-arch index,
 * and reports wall time, peak RSS and CPU time. Registry and daemon start-up are not timed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { archName } from '../bundle-gen.js';
import { startDockerd, type Dockerd } from '../dockerd.js';
import { has } from '../process.js';
import { type Registry, withRegistry } from '../registry.js';
import type { Bundle } from './bundles.js';
import { type Measurement, megabytes, processUsage, runMeasured, Tally, timed } from './measure.js';
import { verifyIndexes } from './verify.js';

export interface Workload {
  bundles: Bundle[];
  /** RepoTags of the images in every bundle. */
  images: string[];
  /** Scratch space, removed by the caller. */
  workDir: string;
}

/** A measurement, or why there is none. */
export type Outcome = { measurement: Measurement; note?: string } | { skipped: string };

const airliftCli = fileURLToPath(new URL('../../../src/cli/airlift.cjs', import.meta.url));
const floorScript = fileURLToPath(new URL('../../bench-floor.js', import.meta.url));

export async function floor({ bundles }: Workload): Promise<Outcome> {
  const { wallMs, value: result } = await timed(() => runMeasured(process.execPath, [floorScript, ...bundles.map((b) => b.file)]));
  if (result.code !== 0) throw new Error(`the floor script failed:\n${result.stderr}`);
  return { measurement: { wallMs, peakRssKiB: result.peakRssKiB, cpuMs: result.cpuMs } };
}

export interface AirliftOutcomes {
  load: Outcome;
  rerun: Outcome;
  uncompressed: Outcome;
}

/**
 * `airlift load` with a fresh blob-info cache into a fresh registry; again on the loaded registry
 * with the same cache; then `--compression none` into another fresh registry.
 */
export async function airlift(work: Workload): Promise<AirliftOutcomes> {
  const cacheHome = await freshCache(work);
  const [load, rerun] = await withRegistry(async (registry) => [
    await airliftLoad(work, registry, cacheHome, []),
    await airliftLoad(work, registry, cacheHome, []),
  ]);
  const uncompressed = await airliftOnce(work, ['--compression', 'none']);
  return { load, rerun, uncompressed };
}

/** One `airlift load` with a fresh cache into a fresh registry. */
export async function airliftOnce(work: Workload, extraArgs: string[] = []): Promise<Outcome> {
  const cacheHome = await freshCache(work);
  return withRegistry((registry) => airliftLoad(work, registry, cacheHome, extraArgs));
}

/** An empty XDG_CACHE_HOME, so airlift knows no compressed digests from earlier runs. */
function freshCache(work: Workload): Promise<string> {
  return mkdtemp(join(work.workDir, 'airlift-cache-'));
}

async function airliftLoad({ bundles, images }: Workload, registry: Registry, cacheHome: string, extraArgs: string[]): Promise<Outcome> {
  const args = [airliftCli, 'load', '--registry', registry.host, '--plain-http', '--json', ...extraArgs, ...bundles.map((b) => b.file)];
  const { wallMs, value: result } = await timed(() => runMeasured(process.execPath, args, { env: { XDG_CACHE_HOME: cacheHome } }));
  if (result.code !== 0) throw new Error(`airlift load ${extraArgs.join(' ')} exited with ${result.code}\n${result.stderr}`);
  await verifyIndexes(registry.host, images);
  const { bytesUploaded } = JSON.parse(result.stdout) as { bytesUploaded: number };
  return {
    measurement: { wallMs, peakRssKiB: result.peakRssKiB, cpuMs: result.cpuMs },
    note: `${megabytes(bytesUploaded).toFixed(0)} MB uploaded`,
  };
}

/**
 * What a skopeo user must do: skopeo 1.9 cannot read a gzipped docker-archive, so gunzip every
 * bundle to a temporary .tar, `skopeo copy` each image of each arch to a per-arch tag, then build
 * each index with `podman manifest create/add/push`. One step after another, as a script runs them.
 */
export async function skopeoPodman(work: Workload): Promise<Outcome> {
  if (!has('skopeo') || !has('podman') || !has('unshare')) return { skipped: 'skopeo, podman or unshare not installed' };
  if (process.getuid?.() !== 0) return { skipped: 'needs root (podman storage of its own, a private skopeo cache)' };
  const dir = await mkdtemp(join(work.workDir, 'skopeo-'));
  // podman refuses a run root path of 50 characters or more.
  const runRoot = await mkdtemp('/tmp/airlift-bench-');
  const podmanStorage = ['--root', join(dir, 'podman'), '--runroot', runRoot, '--storage-driver', 'vfs'];
  const podmanArgs = [...podmanStorage, '--events-backend', 'file', '--cgroup-manager', 'cgroupfs'];
  const tally = new Tally();
  const inPrivateCache = privateBlobInfoCache(join(dir, 'blob-info-cache'));
  try {
    return await withRegistry(async (registry) => {
      const { wallMs } = await timed(async () => {
        const tars: string[] = [];
        for (const bundle of work.bundles) {
          const tar = join(dir, basename(bundle.file, '.gz'));
          await tally.run('sh', ['-c', 'gunzip -c "$0" > "$1"', bundle.file, tar]);
          tars.push(tar);
        }
        for (const [i, bundle] of work.bundles.entries()) {
          for (const image of work.images) {
            const target = `docker://${registry.host}/${image}-${archName(bundle.platform)}`;
            await tally.run(
              ...inPrivateCache('skopeo', [
                '--insecure-policy',
                'copy',
                '-q',
                '--dest-tls-verify=false',
                `docker-archive:${tars[i]}:${image}`,
                target,
              ]),
            );
          }
        }
        for (const image of work.images) {
          const list = `${registry.host}/${image}`;
          const podman = (...args: string[]) => tally.run(...inPrivateCache('podman', [...podmanArgs, ...args]));
          await podman('manifest', 'create', list);
          for (const { platform } of work.bundles) {
            const { os, architecture, variant } = platform;
            const platformArgs = ['--os', os, '--arch', architecture, ...(variant ? ['--variant', variant] : [])];
            await podman('manifest', 'add', '--tls-verify=false', ...platformArgs, list, `docker://${list}-${archName(platform)}`);
          }
          await podman('manifest', 'push', '--all', '--tls-verify=false', list, `docker://${list}`);
        }
      });
      await verifyIndexes(registry.host, work.images);
      return { measurement: { wallMs, peakRssKiB: tally.peakRssKiB, cpuMs: tally.cpuMs }, note: 'peak RSS: largest process' };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(runRoot, { recursive: true, force: true });
  }
}

/**
 * As root, c/image keeps its blob-info cache (which layer compressed to which blob, and where it
 * was pushed) in /var/lib/containers/cache, shared by every run on the machine. A private mount
 * namespace binds `dir` over it, so each run starts cold, as airlift's does.
 */
function privateBlobInfoCache(dir: string): (cmd: string, args: string[]) => [string, string[]] {
  const shared = '/var/lib/containers/cache';
  const script = `mkdir -p "$0" ${shared} && mount --bind "$0" ${shared} && exec "$@"`;
  return (cmd, args) => ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, dir, cmd, ...args]];
}

/**
 * The classic script against a Docker daemon: per arch `docker load`, `docker tag` + `docker push`
 * each image to a per-arch tag, `docker rmi` (the next arch has the same tags); then per image
 * `docker manifest create`, `annotate` (arm variant), `push`. Peak RSS is the sum of dockerd's and
 * containerd's peaks and the largest client's.
 */
export async function dockerScript(work: Workload): Promise<Outcome> {
  return withRegistry(async (registry) => {
    const started = await startDockerdFor(registry.host);
    if (!started) return { skipped: 'dockerd, docker, containerd or unshare not installed, or not root' };
    const { dockerd, storageDriver } = started;
    try {
      const tally = new Tally();
      // DOCKER_CLI_EXPERIMENTAL: `docker manifest` is experimental on clients before 20.10.
      const env = { ...dockerd.client.env, DOCKER_CLI_EXPERIMENTAL: 'enabled' };
      const docker = (...args: string[]) => tally.run('docker', [...dockerd.client.args, ...args], { env });
      const daemonsBefore = await Promise.all(dockerd.pids.map(processUsage));
      const { wallMs } = await timed(async () => {
        for (const bundle of work.bundles) {
          await docker('load', '-q', '-i', bundle.file);
          const pushed = work.images.map((image) => `${registry.host}/${image}-${archName(bundle.platform)}`);
          for (const [i, image] of work.images.entries()) {
            await docker('tag', image, pushed[i]);
            await docker('push', '-q', pushed[i]);
          }
          await docker('rmi', ...work.images, ...pushed);
        }
        for (const image of work.images) {
          const list = `${registry.host}/${image}`;
          const children = work.bundles.map(({ platform }) => `${list}-${archName(platform)}`);
          await docker('manifest', 'create', '--insecure', list, ...children);
          for (const [i, { platform }] of work.bundles.entries()) {
            if (platform.variant)
              await docker('manifest', 'annotate', '--arch', platform.architecture, '--variant', platform.variant, list, children[i]);
          }
          await docker('manifest', 'push', '--insecure', list);
        }
      });
      const daemons = await Promise.all(dockerd.pids.map(processUsage));
      await verifyIndexes(registry.host, work.images);
      const daemonPeaks = daemons.reduce((sum, usage) => sum + usage.peakRssKiB, 0);
      const daemonCpu = daemons.reduce((sum, usage, i) => sum + usage.cpuMs - daemonsBefore[i].cpuMs, 0);
      return {
        measurement: { wallMs, peakRssKiB: daemonPeaks + tally.peakRssKiB, cpuMs: daemonCpu + tally.cpuMs },
        note: `dockerd ${storageDriver}; peak RSS: dockerd + containerd + largest client`,
      };
    } finally {
      await dockerd.stop();
    }
  });
}

/** overlay2 is what Docker users run; vfs (slower) where overlay2 cannot work, e.g. a temp dir on overlayfs. */
async function startDockerdFor(registryHost: string): Promise<{ dockerd: Dockerd; storageDriver: string } | null> {
  const insecureRegistries = [registryHost];
  try {
    const dockerd = await startDockerd({ storageDriver: 'overlay2', insecureRegistries });
    return dockerd && { dockerd, storageDriver: 'overlay2' };
  } catch {
    const dockerd = await startDockerd({ storageDriver: 'vfs', insecureRegistries });
    return dockerd && { dockerd, storageDriver: 'vfs' };
  }
}
