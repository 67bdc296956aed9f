/**
 * Every bundle format real producers write, loaded into a real registry: Docker ≥ 25 OCI
 * layouts, sparse per-arch `ctr export` bundles of one upstream index (digests preserved),
 * crane tarballs, zstd, standard input, mixed inputs; and `airlift inspect`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { K3S_BUSYBOX, K3S_PAUSE, K3S_TRAEFIK, k3sLikeUpstream, planUpstream, type UpstreamPlan } from '../scripts/lib/oci-gen.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import type { LoadJson } from './helpers/seed.js';
import { run, runAirlift, skopeo, tempDir } from './helpers/tools.js';

const fixture = (name: string) => join(import.meta.dirname, '..', 'fixtures', name);
const ctrBundles = ['amd64', 'arm64', 'arm'].map((arch) => fixture(`ctr-airgap-images-${arch}.tar`));

let registry: Registry;
let upstream: UpstreamPlan;

beforeAll(async () => {
  registry = await startRegistry();
  upstream = await planUpstream(k3sLikeUpstream());
});
afterAll(async () => {
  await registry?.stop();
});

async function load(namespace: string, archives: string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<LoadJson> {
  const cache = await tempDir('airlift-cache-');
  const result = await runAirlift(['load', '--registry', `${registry.host}/${namespace}`, '--plain-http', '--json', ...archives], {
    env: { XDG_CACHE_HOME: cache, ...options.env },
    input: options.input,
  });
  if (result.code !== 0) throw new Error(`load failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as LoadJson;
}

const image = (result: LoadJson, repoTag: string) => result.images.find((i) => i.target.endsWith(`/${repoTag}`))!;
const upstreamOf = (repoTag: string) => upstream.images.find((i) => i.repoTags.includes(repoTag))!;
const platformName = (p: { os: string; architecture: string; variant?: string }) =>
  [p.os, p.architecture, p.variant].filter(Boolean).join('/');

describe('ctr export bundles (k3s since Dec 2025): sparse per-arch archives of one upstream index', () => {
  let result: LoadJson;
  beforeAll(async () => {
    result = await load('ctr', ctrBundles);
  });

  test('a tag whose index the bundles cover is pushed unchanged: digests equal upstream', () => {
    for (const repoTag of [K3S_PAUSE, K3S_TRAEFIK]) {
      const loaded = image(result, repoTag);
      const expected = upstreamOf(repoTag);
      expect(loaded.indexDigest).toBe(expected.index.digest);
      const expectedChildren = Object.fromEntries(expected.children.map((c) => [platformName(c.platform), c.manifest.digest]));
      expect(Object.fromEntries(loaded.platforms.map((p) => [p.platform, p.manifestDigest]))).toEqual(expectedChildren);
    }
  });

  test('the arm bundle brings arm/v6 and arm/v7; traefik exists only as arm/v6', () => {
    expect(image(result, K3S_TRAEFIK).platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v6', 'linux/arm64']);
    expect(image(result, K3S_PAUSE).platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });

  test('an index listing a platform in no bundle is never pushed as is: a new index of what is present', async () => {
    const busybox = image(result, K3S_BUSYBOX);
    const expected = upstreamOf(K3S_BUSYBOX);
    expect(busybox.indexDigest).not.toBe(expected.index.digest);
    expect(busybox.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm64']);
    const present = expected.children.filter((c) => c.platform.architecture !== 's390x').map((c) => c.manifest.digest);
    expect(busybox.platforms.map((p) => p.manifestDigest).sort()).toEqual([...present].sort());
    const raw = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/ctr/${K3S_BUSYBOX}`]));
    expect(raw.manifests).toHaveLength(4);
  });

  test('skopeo copies every platform of a preserved index', async () => {
    const dir = await tempDir('airlift-oci-');
    await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${registry.host}/ctr/${K3S_TRAEFIK}`, `oci:${dir}:t`]);
    expect((await readdir(join(dir, 'blobs', 'sha256'))).length).toBeGreaterThan(10);
  });
});

describe('other producers', () => {
  test('Docker ≥ 25 OCI layout: uncompressed layers are compressed, same result as the legacy bundle', async () => {
    const oci = await load('docker25', [fixture('docker25-airgap-images-amd64.tar')]);
    const legacy = await load('legacy', [fixture('k3s-airgap-images-amd64.tar.gz')]);
    expect(oci.images).toHaveLength(8);
    expect(oci.images.map((i) => i.platforms)).toEqual(legacy.images.map((i) => i.platforms));
  });

  test('crane tarball: compressed layers are pushed unchanged', async () => {
    const result = await load('crane', [fixture('crane-pause-arm64.tar')]);
    const manifest = JSON.parse(
      await skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/crane/${K3S_PAUSE.split(':')[0]}@${result.images[0]!.platforms[0]!.manifestDigest}`,
      ]),
    );
    const arm64 = upstreamOf(K3S_PAUSE).children.find((c) => c.platform.architecture === 'arm64')!;
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(arm64.layers.map((l) => l.digest));
  });

  test('mixed inputs (legacy amd64 + ctr arm64 + ctr arm) make one index per tag', async () => {
    const result = await load('mixed', [fixture('k3s-airgap-images-amd64.tar.gz'), ctrBundles[1]!, ctrBundles[2]!]);
    expect(image(result, K3S_PAUSE).platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    expect(result.images).toHaveLength(8);
  });

  test('standard input (`-`) is spooled and the temp file removed', async () => {
    // A private TMPDIR: other test files run airlift at the same time.
    const tmp = await tempDir('airlift-stdin-tmp-');
    const result = await load('stdin', ['-'], { input: await readFile(fixture('k3s-airgap-images-arm.tar.gz')), env: { TMPDIR: tmp } });
    expect(result.images).toHaveLength(8);
    expect(await readdir(tmp)).toEqual([]);
  });
});

describe('zstd', () => {
  test('a `zstd -16 --long=25` bundle loads with peak RSS under 256 MB', async () => {
    const dir = await tempDir('airlift-zstd-');
    const { writeLegacyBundle, k3sLikeImages } = await import('../scripts/lib/bundle-gen.js');
    const tar = join(dir, 'k3s-airgap-images-arm64.tar');
    // ~40 MB of layers: big enough for the 32 MiB window to matter, small enough for CI.
    await writeLegacyBundle(tar, { platform: { os: 'linux', architecture: 'arm64' }, images: k3sLikeImages('arm64', { scale: 250 }) });
    const zst = `${tar}.zst`;
    const compressed = await run('zstd', ['-q', '-T0', '-16', '--long=25', tar, '-o', zst], { timeoutMs: 120_000 });
    expect(compressed.code).toBe(0);
    const timed = await run(
      '/usr/bin/time',
      [
        '-f',
        '%M',
        process.execPath,
        join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'airlift.cjs'),
        'load',
        '--registry',
        `${registry.host}/zstd`,
        '--plain-http',
        '--json',
        '-q',
        zst,
      ],
      {
        env: { XDG_CACHE_HOME: dir },
        timeoutMs: 120_000,
      },
    );
    expect(timed.code).toBe(0);
    const peakKiB = Number(timed.stderr.trim().split('\n').pop());
    expect(peakKiB).toBeLessThan(256 * 1024);
    expect(JSON.parse(timed.stdout).images).toHaveLength(8);
  }, 240_000);
});

describe('airlift inspect', () => {
  test('--json lists format, compression, images, platforms, layers and totals', async () => {
    const result = await runAirlift(['inspect', '--json', fixture('ctr-airgap-images-arm.tar'), fixture('k3s-airgap-images-amd64.tar.gz')]);
    expect(result.code).toBe(0);
    const [ctr, legacy] = JSON.parse(result.stdout);
    expect(ctr).toMatchObject({ format: 'oci-layout', compression: 'none' });
    expect(legacy).toMatchObject({ format: 'docker-save', compression: 'gzip', totals: { images: 8 } });
    const traefik = ctr.images.find((i: { refs: string[] }) => i.refs.includes(`docker.io/${K3S_TRAEFIK}`));
    expect(traefik.platform).toBe('linux/arm/v6');
    expect(traefik.upstreamIndexDigest).toBe(upstreamOf(K3S_TRAEFIK).index.digest);
    expect(traefik.layers.every((l: { size: number; digest: string }) => l.size > 0 && l.digest.startsWith('sha256:'))).toBe(true);
    const text = await runAirlift(['inspect', fixture('k3s-airgap-images-amd64.tar.gz')]);
    expect(text.stdout).toMatch(/docker-save, gzip/);
    expect(text.stdout).toMatch(/total: 8 image\(s\)/);
  });
});
