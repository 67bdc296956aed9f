/**
 * Bundles written by the real tools k3s users get them from, loaded back: `ctr images export`
 * per platform from a hand-started containerd (what k3s ships since Dec 2025, zstd-compressed
 * as k3s does), `podman save -m`, and skopeo's docker-archive. Each is skipped when its tool
 * is not installed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Containerd, startContainerd } from './helpers/containerd.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import type { LoadJson } from './helpers/seed.js';
import { has, runAirlift, runOrThrow, skopeo, tempDir } from './helpers/tools.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const legacyBundles = ['amd64', 'arm64', 'arm'].map((arch) => join(fixtures, `k3s-airgap-images-${arch}.tar.gz`));
const platforms = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'];
const pause = 'rancher/mirrored-pause:3.6';

let registry: Registry;
let dir: string;
/** The multi-arch source tags, as airlift loaded them from the legacy fixtures. */
let source: LoadJson;

beforeAll(async () => {
  registry = await startRegistry();
  dir = await tempDir('airlift-producers-');
  source = await load('src', legacyBundles);
});
afterAll(async () => {
  await registry?.stop();
});

async function load(namespace: string, archives: string[]): Promise<LoadJson> {
  const args = ['load', '--registry', `${registry.host}/${namespace}`, '--plain-http', '--json', ...archives];
  const result = await runAirlift(args, { env: { XDG_CACHE_HOME: join(dir, 'cache') } });
  if (result.code !== 0) throw new Error(`load failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as LoadJson;
}

const byTarget = (result: LoadJson, suffix: string) => result.images.find((i) => i.target.endsWith(suffix))!;

describe('ctr images export (containerd)', () => {
  let containerd: Containerd | null;
  beforeAll(async () => {
    containerd = await startContainerd();
  });
  afterAll(async () => {
    await containerd?.stop();
  });

  test('per-platform exports of one multi-arch image, zstd --long=25, load back to the same index digest', async () => {
    if (!containerd || !has('zstd')) return console.warn('containerd or zstd not installed: ctr export test skipped');
    const ref = `${registry.host}/src/${pause}`;
    await containerd.ctr(['images', 'pull', '--plain-http', '--all-platforms', ref]);
    const bundles: string[] = [];
    for (const platform of platforms) {
      const tar = join(dir, `ctr-${platform.replaceAll('/', '-')}.tar`);
      await containerd.ctr(['images', 'export', '--platform', platform, tar, ref]);
      await runOrThrow('zstd', ['-q', '-16', '--long=25', '--rm', tar, '-o', `${tar}.zst`]);
      bundles.push(`${tar}.zst`);
    }
    const result = await load('ctr', bundles);
    const loaded = byTarget(result, `/ctr/src/${pause}`);
    const original = byTarget(source, `/src/${pause}`);
    expect(loaded.indexDigest).toBe(original.indexDigest);
    expect(loaded.platforms).toEqual(original.platforms);
  }, 120_000);
});

describe('podman save -m', () => {
  test('a multi-image docker-archive with fully qualified RepoTags', async () => {
    if (!has('podman')) return console.warn('podman not installed: podman test skipped');
    // podman refuses a runroot path longer than 50 characters.
    const runroot = await mkdtemp(join(tmpdir(), 'podrun-'));
    const podman = [
      '--root',
      join(dir, 'podman-root'),
      '--runroot',
      runroot,
      '--storage-driver',
      'vfs',
      '--events-backend',
      'file',
      '--cgroup-manager',
      'cgroupfs',
    ];
    // podman 4.3 cannot read a gzipped docker-archive: hand it the plain tar.
    const plain = join(dir, 'arm64.tar');
    await runOrThrow('sh', ['-c', `gunzip -c "${legacyBundles[1]}" > "${plain}"`]);
    await runOrThrow('podman', [...podman, 'load', '-i', plain]);
    const images = (await runOrThrow('podman', [...podman, 'images', '--format', '{{.Repository}}:{{.Tag}}'])).trim().split('\n');
    expect(images).toHaveLength(8);
    const saved = join(dir, 'podman-arm64.tar');
    await runOrThrow('podman', [...podman, 'save', '-m', '--format', 'docker-archive', '-o', saved, ...images]);
    await rm(runroot, { recursive: true, force: true });
    const result = await load('podman', [saved]);
    expect(result.images).toHaveLength(8);
    const loaded = byTarget(result, `/podman/${pause}`);
    const arm64 = byTarget(source, `/src/${pause}`).platforms.find((p) => p.platform === 'linux/arm64')!;
    expect(loaded.platforms).toEqual([arm64]);
  }, 120_000);
});

describe('skopeo docker-archive', () => {
  test('one platform copied out of the registry loads back to the same manifest', async () => {
    const archive = join(dir, 'skopeo-arm.tar');
    await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--override-arch',
      'arm',
      '--override-variant',
      'v7',
      `docker://${registry.host}/src/${pause}`,
      `docker-archive:${archive}:${pause}`,
    ]);
    const result = await load('skopeo', [archive]);
    const armV7 = byTarget(source, `/src/${pause}`).platforms.find((p) => p.platform === 'linux/arm/v7')!;
    expect(byTarget(result, `/skopeo/${pause}`).platforms).toEqual([armV7]);
  });
});
