import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { archName, K3S_PLATFORMS, k3sLikeImages, writeK3sFixtures, writeLegacyBundle } from '../scripts/lib/bundle-gen.js';
import { readTar, type TarFile } from './helpers/tar.js';

const execFileAsync = promisify(execFile);

/** sha256 of a tar holding nothing but the end-of-archive marker. */
const EMPTY_LAYER = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
const PAUSE = 'rancher/mirrored-pause:3.6';
const COREDNS = 'rancher/mirrored-coredns-coredns:1.10.1';
const LOCAL_PATH = 'rancher/local-path-provisioner:v0.0.24';
const HELM = 'rancher/klipper-helm:v0.8.0-build20230510';
const TRAEFIK = 'rancher/mirrored-library-traefik:2.9.10';

interface ManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

interface ImageConfig {
  architecture: string;
  variant?: string;
  rootfs: { diff_ids: string[] };
}

interface Bundle {
  names: string[];
  files: Map<string, TarFile>;
  manifest: ManifestEntry[];
}

async function loadBundle(file: string): Promise<Bundle> {
  const raw = await readFile(file);
  const entries = await readTar(file.endsWith('.gz') ? gunzipSync(raw) : raw);
  const files = new Map(entries.map((entry) => [entry.header.name, entry]));
  const manifest = JSON.parse(files.get('manifest.json')!.data.toString()) as ManifestEntry[];
  return { names: entries.map((entry) => entry.header.name), files, manifest };
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function imageEntry(bundle: Bundle, repoTag: string): ManifestEntry {
  return bundle.manifest.find((entry) => entry.RepoTags.includes(repoTag))!;
}

function config(bundle: Bundle, repoTag: string): ImageConfig {
  return JSON.parse(bundle.files.get(imageEntry(bundle, repoTag).Config)!.data.toString()) as ImageConfig;
}

function diffIDs(bundle: Bundle, repoTag: string): string[] {
  return config(bundle, repoTag).rootfs.diff_ids;
}

function imagesUsing(bundle: Bundle, diffID: string): string[] {
  return bundle.manifest.map((entry) => entry.RepoTags[0]).filter((tag) => diffIDs(bundle, tag).includes(diffID));
}

/** A layer.tar's bytes, following docker's `../<id>/layer.tar` symlinks. */
function layerTar(bundle: Bundle, name: string): Buffer {
  const file = bundle.files.get(name)!;
  if (file.header.type !== 'symlink') return file.data;
  return layerTar(bundle, path.posix.join(path.posix.dirname(name), file.header.linkname));
}

let workDir: string;
let written: string[];
const bundles = new Map<string, Bundle>();

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'bundle-gen-'));
  written = await writeK3sFixtures(path.join(workDir, 'a'));
  for (const platform of K3S_PLATFORMS) {
    const arch = archName(platform);
    bundles.set(arch, await loadBundle(path.join(workDir, 'a', `k3s-airgap-images-${arch}.tar.gz`)));
  }
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

test('writes small gzip bundles for three arches plus an uncompressed amd64 copy', async () => {
  expect(written.map((file) => path.basename(file))).toEqual([
    'k3s-airgap-images-amd64.tar.gz',
    'k3s-airgap-images-amd64.tar',
    'k3s-airgap-images-arm64.tar.gz',
    'k3s-airgap-images-arm.tar.gz',
  ]);
  const sizes = await Promise.all(written.map(async (file) => (await stat(file)).size));
  expect(sizes.reduce((a, b) => a + b)).toBeLessThan(1024 * 1024);
  expect(bundles.get('amd64')!.manifest).toHaveLength(8);
});

test('entries are in lexical order, ending with manifest.json and repositories', () => {
  for (const { names, files } of bundles.values()) {
    expect(names).toEqual([...names].sort());
    expect(names.slice(-2)).toEqual(['manifest.json', 'repositories']);
    const layerDirs = names.filter((name) => /^[0-9a-f]{64}\/$/.test(name));
    for (const dir of layerDirs) {
      expect(files.get(`${dir}VERSION`)!.data.toString()).toBe('1.0');
      expect(JSON.parse(files.get(`${dir}json`)!.data.toString()).id).toBe(dir.slice(0, -1));
    }
  }
});

test('each layer.tar hashes to the diff_id at its position, and each distinct layer is stored once', () => {
  for (const bundle of bundles.values()) {
    for (const entry of bundle.manifest) {
      expect(entry.Layers.map((name) => sha256(layerTar(bundle, name)))).toEqual(diffIDs(bundle, entry.RepoTags[0]));
    }
    const stored = [...bundle.files.values()].filter(({ header }) => header.name.endsWith('/layer.tar') && header.type === 'file');
    const storedDigests = stored.map(({ data }) => sha256(data));
    expect(new Set(storedDigests).size).toBe(storedDigests.length);
  }
});

test('a layer repeated within one image is a symlink to ../<id>/layer.tar', () => {
  const bundle = bundles.get('amd64')!;
  const layers = imageEntry(bundle, TRAEFIK).Layers;
  const ids = diffIDs(bundle, TRAEFIK);
  const first = ids.indexOf(EMPTY_LAYER);
  const second = ids.lastIndexOf(EMPTY_LAYER);
  expect(second).toBeGreaterThan(first);
  const link = bundle.files.get(layers[second])!.header;
  expect(link.type).toBe('symlink');
  expect(link.linkname).toMatch(/^\.\.\/[0-9a-f]{64}\/layer\.tar$/);
  expect(link.linkname).toBe(`../${layers[first]}`);
  expect(bundle.files.get(layers[first])!.header.type).toBe('file');
});

test('the CA layer is identical across arches; base and binary layers are per arch', () => {
  const [amd64, arm64] = [bundles.get('amd64')!, bundles.get('arm64')!];
  const [caLayer, corednsBinary] = diffIDs(amd64, COREDNS);
  expect(diffIDs(arm64, COREDNS)[0]).toBe(caLayer);
  expect(imagesUsing(amd64, caLayer).length).toBeGreaterThanOrEqual(2);
  expect(diffIDs(arm64, COREDNS)[1]).not.toBe(corednsBinary);

  const base = diffIDs(amd64, LOCAL_PATH)[0];
  expect(imagesUsing(amd64, base).length).toBeGreaterThanOrEqual(3);
  expect(diffIDs(arm64, LOCAL_PATH)[0]).not.toBe(base);
  expect(diffIDs(arm64, PAUSE)).not.toEqual(diffIDs(amd64, PAUSE));
});

test('layer tars are sorted, list parents first and carry whiteouts', async () => {
  const bundle = bundles.get('amd64')!;
  const helmLayers = imageEntry(bundle, HELM).Layers;
  const base = await readTar(layerTar(bundle, helmLayers[0]));
  const cleanup = await readTar(layerTar(bundle, helmLayers[helmLayers.length - 1]));
  expect(base.map((file) => file.header.name)).toContain('var/cache/apk/APKINDEX.tar.gz');
  expect(cleanup.map((file) => file.header.name)).toContain('var/cache/apk/.wh.APKINDEX.tar.gz');
  for (const layer of [base, cleanup]) {
    const names = layer.map((file) => file.header.name);
    expect(names).toEqual([...names].sort());
    names.forEach((name, i) => {
      const parent = path.posix.dirname(name.replace(/\/$/, ''));
      if (parent !== '.') expect(names.slice(0, i)).toContain(`${parent}/`);
    });
    expect(layer.every(({ header }) => header.uid === 0 && header.gid === 0)).toBe(true);
  }
});

test('configs carry the bundle platform', () => {
  const expected = { amd64: ['amd64', undefined], arm64: ['arm64', undefined], arm: ['arm', 'v7'] };
  for (const [arch, [architecture, variant]] of Object.entries(expected)) {
    const bundle = bundles.get(arch)!;
    for (const entry of bundle.manifest) {
      const { architecture: actualArch, variant: actualVariant } = config(bundle, entry.RepoTags[0]);
      expect([actualArch, actualVariant]).toEqual([architecture, variant]);
    }
  }
});

test('writeLegacyBundle reports what it wrote and can omit the variant', async () => {
  const file = path.join(workDir, 'custom.tar');
  const result = await writeLegacyBundle(file, {
    platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    omitVariant: true,
    images: [{ repoTags: ['example/app:1'], layers: [{ files: [{ path: 'etc/motd', content: 'hi\n' }] }] }],
  });
  const bundle = await loadBundle(file);
  const [image] = result.images;
  expect(imageEntry(bundle, 'example/app:1').Config).toBe(`${image.configDigest.slice('sha256:'.length)}.json`);
  expect(diffIDs(bundle, 'example/app:1')).toEqual(image.diffIDs);
  expect(config(bundle, 'example/app:1').variant).toBeUndefined();
});

test('identical input gives byte-identical archives', async () => {
  const again = await writeK3sFixtures(path.join(workDir, 'b'));
  for (const [i, file] of written.entries()) {
    expect(sha256(await readFile(again[i]))).toBe(sha256(await readFile(file)));
  }
});

test('binaries cut from a real executable compress like one, differ per arch and repeat exactly', async () => {
  const coredns = async (dir: string, arch: string) => {
    const file = path.join(workDir, dir, `${arch}.tar`);
    await writeLegacyBundle(file, {
      platform: { os: 'linux', architecture: arch },
      images: k3sLikeImages(arch, { scale: 40, executable: process.execPath }),
    });
    const bundle = await loadBundle(file);
    const layers = imageEntry(bundle, COREDNS).Layers;
    const tar = await readTar(layerTar(bundle, layers.at(-1)!));
    return tar.find((entry) => entry.header.name === 'coredns')!.data;
  };
  const amd64 = await coredns('exec-a', 'amd64');
  expect(amd64.length).toBe(25 * 1024 * 40);
  // Node's own executable is the source here (the benchmark cuts from docker-registry's).
  const ratio = gzipSync(amd64, { level: 1 }).length / amd64.length;
  expect(ratio).toBeGreaterThan(0.2);
  expect(ratio).toBeLessThan(0.6);
  expect(sha256(await coredns('exec-b', 'amd64'))).toBe(sha256(amd64));
  expect(sha256(await coredns('exec-a', 'arm64'))).not.toBe(sha256(amd64));
});

const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;

(hasSkopeo ? test : test.skip)('skopeo reads the archives', async () => {
  const amd64Tar = written.find((file) => file.endsWith('amd64.tar'))!;
  const { stdout: raw } = await execFileAsync('skopeo', ['inspect', '--raw', `docker-archive:${amd64Tar}:${PAUSE}`]);
  const pauseConfig = imageEntry(bundles.get('amd64')!, PAUSE).Config;
  expect(JSON.parse(raw).config.digest).toBe(`sha256:${pauseConfig.replace(/\.json$/, '')}`);

  // Copying verifies every layer digest, including symlinked and shared layers.
  const layout = path.join(workDir, 'oci');
  await execFileAsync('skopeo', ['copy', '--quiet', `docker-archive:${amd64Tar}:${TRAEFIK}`, `oci:${layout}:traefik`]);

  const armTar = path.join(workDir, 'arm.tar');
  await writeFile(armTar, gunzipSync(await readFile(written.find((file) => file.endsWith('-arm.tar.gz'))!)));
  const { stdout: armConfig } = await execFileAsync('skopeo', ['inspect', '--config', `docker-archive:${armTar}:${TRAEFIK}`]);
  expect(JSON.parse(armConfig)).toMatchObject({ architecture: 'arm', variant: 'v7' });
});
