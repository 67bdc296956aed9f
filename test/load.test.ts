/**
 * The load core end to end against a real Distribution registry: three per-arch docker-save
 * bundles become one verified multi-arch OCI index per image, readable by skopeo.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../src/oci/digest.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { fixtureBundles, type LoadJson, seededImages } from './helpers/seed.js';
import { run as runCommand, runAirlift, skopeo, tempDir } from './helpers/tools.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const bundles = fixtureBundles;
const images = seededImages;

let registry: Registry;
let cacheHome: string;

beforeAll(async () => {
  registry = await startRegistry();
  cacheHome = await tempDir('airlift-cache-');
});
afterAll(async () => {
  await registry?.stop();
});

const load = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runAirlift(['load', '--registry', registry.host, '--plain-http', ...args], {
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, ...env },
  });

describe('three arch bundles → one index per tag', () => {
  let first: LoadJson;

  beforeAll(async () => {
    const run = await load(['--json', ...bundles]);
    expect(run.stderr).not.toMatch(/\x1b\[/);
    expect(run.code).toBe(0);
    first = JSON.parse(run.stdout) as LoadJson;
  });

  test('the JSON result names every tag with exactly amd64, arm64 and arm/v7', () => {
    expect(first.images.map((i) => i.target).sort()).toEqual(images.map((i) => `${registry.host}/${i}`));
    for (const image of first.images) {
      expect(image.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
      expect(image.indexDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(image.sources).toHaveLength(3);
    }
    expect(first.bytesUploaded).toBeGreaterThan(0);
    expect(first.durationMs).toBeGreaterThan(0);
  });

  test('skopeo reads the index and resolves each platform to a config of that platform', async () => {
    const ref = `docker://${registry.host}/rancher/mirrored-pause:3.6`;
    const raw = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', ref]));
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(raw.manifests.map((m: { platform: object }) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    const pause = first.images.find((i) => i.target.endsWith('mirrored-pause:3.6'))!;
    for (const [arch, variant, platform] of [
      ['arm', 'v7', 'linux/arm/v7'],
      ['arm64', '', 'linux/arm64'],
      ['amd64', '', 'linux/amd64'],
    ]) {
      const override = ['--override-arch', arch!, ...(variant ? ['--override-variant', variant] : [])];
      const config = await skopeo(['inspect', '--config', '--raw', '--tls-verify=false', ...override, ref]);
      expect(sha256(config)).toBe(pause.platforms.find((p) => p.platform === platform)!.configDigest);
      expect(JSON.parse(config).architecture).toBe(arch);
    }
  });

  test('skopeo copy --all takes the whole index, layers included', async () => {
    const dir = await tempDir('airlift-oci-');
    await skopeo([
      'copy',
      '--all',
      '--src-tls-verify=false',
      `docker://${registry.host}/rancher/mirrored-library-traefik:2.9.10`,
      `oci:${dir}:traefik`,
    ]);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect((await readdir(join(dir, 'blobs', 'sha256'))).length).toBeGreaterThan(10);
  });

  test('a re-run uploads nothing, with or without the blob-info cache', async () => {
    const again = await load(['--json', ...bundles]);
    expect(again.code).toBe(0);
    const second = JSON.parse(again.stdout) as LoadJson;
    expect(second.bytesUploaded).toBe(0);
    expect(second.images.map((i) => i.indexDigest)).toEqual(first.images.map((i) => i.indexDigest));
    // With the caches warm, the archives are not even read: no read progress at all.
    expect(again.stderr).not.toMatch(/ read \d/);
    const noCache = await load(['--json', ...bundles], { XDG_CACHE_HOME: await tempDir('airlift-nocache-') });
    expect(JSON.parse(noCache.stdout).bytesUploaded).toBe(0);
  });
});

describe('inputs', () => {
  test('compression is recognised by content, not by name; plain tar works', async () => {
    const dir = await tempDir('airlift-names-');
    await copyFile(bundles[0]!, join(dir, 'bundle.tar'));
    await copyFile(join(fixtures, 'k3s-airgap-images-amd64.tar'), join(dir, 'bundle.tar.gz'));
    for (const file of ['bundle.tar', 'bundle.tar.gz']) {
      const run = await load(['--json', '--registry', `${registry.host}/renamed`, join(dir, file)]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).images).toHaveLength(8);
    }
  });

  test('--image-list loads only the listed images', async () => {
    const dir = await tempDir('airlift-list-');
    const list = join(dir, 'k3s-images.txt');
    await writeFile(list, '# k3s images\n\ndocker.io/rancher/mirrored-pause:3.6\n  rancher/klipper-lb:v0.4.4  # lb\n');
    const run = await load(['--json', '--registry', `${registry.host}/listed`, '--image-list', list, ...bundles]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).images.map((i: { target: string }) => i.target)).toEqual([
      `${registry.host}/listed/rancher/klipper-lb:v0.4.4`,
      `${registry.host}/listed/rancher/mirrored-pause:3.6`,
    ]);
  });

  test('an image list naming images in no archive fails before any write, naming each', async () => {
    const dir = await tempDir('airlift-list-');
    const list = join(dir, 'k3s-images.txt');
    await writeFile(list, 'rancher/mirrored-pause:3.6\nrancher/nope:1\nquay.io/other/thing:2\n');
    const run = await load(['--registry', `${registry.host}/missing`, '--image-list', list, ...bundles]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/docker\.io\/rancher\/nope:1/);
    expect(run.stderr).toMatch(/quay\.io\/other\/thing:2/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    await expect(
      skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/missing/rancher/mirrored-pause:3.6`]),
    ).rejects.toThrow();
  });
});

describe('layer compression', () => {
  const layerOf = async (namespace: string) => {
    const repo = `docker://${registry.host}/${namespace}/rancher/mirrored-pause`;
    const index = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `${repo}:3.6`]));
    const manifest = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `${repo}@${index.manifests[0].digest}`]));
    return manifest.layers[0] as { mediaType: string; digest: string };
  };

  test.each([
    ['zstd', 'application/vnd.oci.image.layer.v1.tar+zstd'],
    ['none', 'application/vnd.oci.image.layer.v1.tar'],
  ])('--compression %s pushes %s layers', async (compression, mediaType) => {
    const run = await load(['--json', '--registry', `${registry.host}/${compression}`, '--compression', compression, bundles[0]!]);
    expect(run.code).toBe(0);
    const layer = await layerOf(compression);
    expect(layer.mediaType).toBe(mediaType);
    const pull = await runCommand('skopeo', [
      '--insecure-policy',
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/${compression}/rancher/mirrored-pause:3.6`,
      `oci:${await tempDir('airlift-pull-')}:p`,
    ]);
    expect(pull.code).toBe(0);
  });

  test('--compression-level is checked against the algorithm', async () => {
    const run = await load(['--compression', 'gzip', '--compression-level', '12', bundles[0]!]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/1-9/);
  });
});

describe('bad input gives one clear line and, with --fail-fast, writes nothing', () => {
  const cases: Array<[string, (dir: string) => Promise<string>, RegExp]> = [
    ['a truncated gzip', async (dir) => truncated(dir, bundles[0]!), /truncated.*re-copy/],
    ['an empty file', async (dir) => writeTo(dir, Buffer.alloc(0)), /empty/],
    [
      'random bytes',
      async (dir) => writeTo(dir, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))),
      /not a tar archive/,
    ],
    ['a missing file', async (dir) => join(dir, 'nope.tar.gz'), /no such file/],
  ];
  test.each(cases)('%s', async (_name, make, message) => {
    const dir = await tempDir('airlift-bad-');
    const file = await make(dir);
    const run = await load(['--fail-fast', '--registry', `${registry.host}/bad`, bundles[1]!, file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain(file);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    await expect(
      skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/bad/rancher/mirrored-pause:3.6`]),
    ).rejects.toThrow();
  });

  test('usage errors exit 2', async () => {
    const run = await runAirlift(['load', bundles[0]!]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/registry/);
  });
});

async function truncated(dir: string, source: string): Promise<string> {
  const bytes = await readFile(source);
  return writeTo(dir, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
}

async function writeTo(dir: string, bytes: Buffer): Promise<string> {
  const file = join(dir, 'k3s-airgap-images-amd64.tar.gz');
  await writeFile(file, bytes);
  return file;
}
