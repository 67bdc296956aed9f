/**
 * Bundles written by a REAL `docker save` (a private dockerd with the vfs driver): 8 images ×
 * 3 arch bundles load as 8 multi-arch tags, and containerd — the client k3s uses — pulls every
 * platform of each. Skipped when Debian's docker.io or containerd is not installed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { K3S_PLATFORMS, archName, k3sLikeImages, writeLegacyBundle } from '../scripts/lib/bundle-gen.js';
import { type Containerd, startContainerd } from './helpers/containerd.js';
import { type Dockerd, startDockerd } from './helpers/dockerd.js';
import { type Registry, startRegistry } from './helpers/registry.js';
import { runAirlift, tempDir } from './helpers/tools.js';

let dockerd: Dockerd | null;
let containerd: Containerd | null;
let registry: Registry;
const bundles: string[] = [];
const tags = k3sLikeImages('amd64').map((image) => image.repoTags[0]!);

beforeAll(async () => {
  dockerd = await startDockerd();
  if (!dockerd) return;
  registry = await startRegistry();
  containerd = await startContainerd();
  const dir = await tempDir('airlift-docker-save-');
  // Images get into dockerd through `docker load` of generated bundles, one arch at a time
  // (the tags are the same on every arch); what `docker save` then writes is Docker's own.
  for (const platform of K3S_PLATFORMS) {
    const arch = archName(platform);
    const generated = join(dir, `generated-${arch}.tar`);
    await writeLegacyBundle(generated, { platform, images: k3sLikeImages(arch) });
    await dockerd.docker(['load', '-i', generated]);
    const saved = join(dir, `k3s-airgap-images-${arch}.tar`);
    await dockerd.docker(['save', '-o', saved, ...tags]);
    await dockerd.docker(['rmi', ...tags]);
    bundles.push(saved);
  }
}, 180_000);

afterAll(async () => {
  await containerd?.stop();
  await dockerd?.stop();
  await registry?.stop();
});

describe('real docker save bundles', () => {
  test('8 images × 3 arch bundles → 8 tags with exactly amd64, arm64, arm/v7; a re-run uploads nothing', async () => {
    if (!dockerd) return console.warn('dockerd not installed: real docker save test skipped');
    const cacheHome = await tempDir('airlift-cache-');
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome };
    const args = ['load', '--registry', registry.host, '--plain-http', '--json', ...bundles];
    const run = await runAirlift(args, { env });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.images).toHaveLength(8);
    for (const image of result.images) {
      expect(image.platforms.map((p: { platform: string }) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    }
    const again = await runAirlift(args, { env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).bytesUploaded).toBe(0);
  }, 120_000);

  test('containerd pulls every platform of every tag', async () => {
    if (!dockerd || !containerd) return console.warn('dockerd or containerd not installed: pull test skipped');
    for (const tag of tags) {
      for (const platform of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) {
        await containerd.pullPlatform(`${registry.host}/${tag.replace(/^docker\.io\//, '')}`, platform);
      }
    }
    const images = await containerd.ctr(['images', 'ls', '-q']);
    expect(images.trim().split('\n')).toHaveLength(8);
  }, 120_000);
});
