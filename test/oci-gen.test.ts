import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { k3sLikeImages, writeLegacyBundle } from '../scripts/lib/bundle-gen.js';
import type { Platform } from '../scripts/lib/bundle-gen.js';
import {
  CTR_BUNDLE_PLATFORMS,
  K3S_BUSYBOX,
  K3S_HELM,
  K3S_PAUSE,
  K3S_TRAEFIK,
  k3sLikeUpstream,
  MEDIA_TYPES,
  planUpstream,
  writeCtrExportBundle,
  writeOciFixtures,
} from '../scripts/lib/oci-gen.js';
import type { UpstreamChild, UpstreamImage, UpstreamPlan } from '../scripts/lib/oci-gen.js';
import { readTar, type TarFile } from './helpers/tar.js';

const execFileAsync = promisify(execFile);

interface Bundle {
  names: string[];
  files: Map<string, TarFile>;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

interface ManifestJsonItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

async function loadBundle(file: string): Promise<Bundle> {
  const entries = await readTar(await readFile(file));
  return { names: entries.map((entry) => entry.header.name), files: new Map(entries.map((entry) => [entry.header.name, entry])) };
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function blobName(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

function json<T>(bundle: Bundle, name: string): T {
  return JSON.parse(bundle.files.get(name)!.data.toString()) as T;
}

function blobNames(bundle: Bundle): string[] {
  return bundle.names.filter((name) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(name));
}

function platformKey({ os, architecture, variant }: Platform): string {
  return [os, architecture, variant].filter(Boolean).join('/');
}

function upstreamImage(repoTag: string): UpstreamImage {
  return upstream.images.find((image) => image.repoTags.includes(repoTag))!;
}

function child(repoTag: string, platform: string): UpstreamChild {
  return upstreamImage(repoTag).children.find((c) => platformKey(c.platform) === platform)!;
}

let workDir: string;
let written: string[];
let upstream: UpstreamPlan;
const bundles = new Map<string, Bundle>();

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'oci-gen-'));
  written = await writeOciFixtures(path.join(workDir, 'a'));
  for (const file of written) bundles.set(path.basename(file, '.tar'), await loadBundle(file));
  upstream = await planUpstream(k3sLikeUpstream());
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

test('writes the docker25, three ctr-export and crane fixtures, under 1.5 MB together', async () => {
  expect([...bundles.keys()]).toEqual([
    'docker25-airgap-images-amd64',
    'ctr-airgap-images-amd64',
    'ctr-airgap-images-arm64',
    'ctr-airgap-images-arm',
    'crane-pause-arm64',
  ]);
  const sizes = await Promise.all(written.map(async (file) => (await stat(file)).size));
  expect(sizes.reduce((a, b) => a + b)).toBeLessThan(1.5 * 1024 * 1024);
});

test('every blob of the OCI layouts hashes to its name', () => {
  for (const [name, bundle] of bundles) {
    if (name.startsWith('crane')) continue;
    for (const blob of blobNames(bundle)) expect(blobName(sha256(bundle.files.get(blob)!.data))).toBe(blob);
  }
});

test('docker25: blobs, then index.json, manifest.json, oci-layout, repositories', () => {
  const bundle = bundles.get('docker25-airgap-images-amd64')!;
  expect(bundle.names.slice(0, 2)).toEqual(['blobs/', 'blobs/sha256/']);
  expect(bundle.names.slice(2, -4)).toEqual(blobNames(bundle));
  expect(bundle.names.slice(-4)).toEqual(['index.json', 'manifest.json', 'oci-layout', 'repositories']);
  expect(json(bundle, 'oci-layout')).toEqual({ imageLayoutVersion: '1.0.0' });
  expect(bundle.files.get('manifest.json')!.data.toString()).toMatch(/\n$/);
});

test('docker25: one index descriptor per tag, OCI manifests of uncompressed layers', async () => {
  const bundle = bundles.get('docker25-airgap-images-amd64')!;
  const index = json<{ mediaType: string; manifests: Descriptor[] }>(bundle, 'index.json');
  expect(index.mediaType).toBe(MEDIA_TYPES.oci.index);
  expect(index.manifests).toHaveLength(8);
  expect(index.manifests[0]).toMatchObject({
    mediaType: MEDIA_TYPES.oci.manifest,
    annotations: { 'io.containerd.image.name': `docker.io/${K3S_PAUSE}`, 'org.opencontainers.image.ref.name': '3.6' },
  });
  expect(index.manifests.every((descriptor) => descriptor.platform === undefined)).toBe(true);

  const manifestJson = json<ManifestJsonItem[]>(bundle, 'manifest.json');
  const legacy = await writeLegacyBundle(path.join(workDir, 'legacy.tar'), {
    platform: { os: 'linux', architecture: 'amd64' },
    images: k3sLikeImages('amd64'),
  });
  index.manifests.forEach((descriptor, i) => {
    const manifest = json<{ config: Descriptor; layers: Descriptor[] }>(bundle, blobName(descriptor.digest));
    const { rootfs } = json<{ rootfs: { diff_ids: string[] } }>(bundle, blobName(manifest.config.digest));
    expect(manifest.config.mediaType).toBe(MEDIA_TYPES.oci.config);
    expect(manifest.layers.map((layer) => layer.mediaType)).toEqual(rootfs.diff_ids.map(() => 'application/vnd.oci.image.layer.v1.tar'));
    expect(manifest.layers.map((layer) => layer.digest)).toEqual(rootfs.diff_ids);
    expect(manifestJson[i]).toEqual({
      Config: blobName(manifest.config.digest),
      RepoTags: legacy.images[i].repoTags,
      Layers: rootfs.diff_ids.map(blobName),
    });
    // Same images as the legacy bundle: same configs.
    expect(manifest.config.digest).toBe(legacy.images[i].configDigest);
  });
});

test('ctr exports: index.json points each name at the upstream index, without platform', () => {
  for (const arch of Object.keys(CTR_BUNDLE_PLATFORMS)) {
    const bundle = bundles.get(`ctr-airgap-images-${arch}`)!;
    expect(bundle.names.slice(-3)).toEqual(['index.json', 'manifest.json', 'oci-layout']);
    const index = json<{ mediaType?: string; manifests: Descriptor[] }>(bundle, 'index.json');
    expect(index.mediaType).toBeUndefined();
    expect(index.manifests).toEqual(
      upstream.images.map((image) => ({
        mediaType: image.index.mediaType,
        digest: image.index.digest,
        size: image.index.size,
        annotations: {
          'containerd.io/distribution.source.docker.io': image.repoTags[0].split(':')[0],
          'io.containerd.image.name': `docker.io/${image.repoTags[0]}`,
          'org.opencontainers.image.ref.name': image.repoTags[0].split(':')[1],
        },
      })),
    );
    for (const image of upstream.images) expect(bundle.files.get(blobName(image.index.digest))!.data).toEqual(image.index.bytes);
  }
});

test('ctr exports are sparse: only the selected platforms, together covering all but s390x', () => {
  const covered = new Set<string>();
  for (const [arch, platforms] of Object.entries(CTR_BUNDLE_PLATFORMS)) {
    const bundle = bundles.get(`ctr-airgap-images-${arch}`)!;
    const selected = new Set(platforms.map(platformKey));
    for (const image of upstream.images) {
      for (const c of image.children) {
        const present = bundle.files.has(blobName(c.manifest.digest));
        expect([image.repoTags[0], platformKey(c.platform), present]).toEqual([
          image.repoTags[0],
          platformKey(c.platform),
          selected.has(platformKey(c.platform)),
        ]);
        if (present) {
          covered.add(c.manifest.digest);
          for (const layer of c.layers) expect(bundle.files.has(blobName(layer.digest))).toBe(true);
          expect(bundle.files.get(blobName(c.config.digest))!.data).toEqual(c.config.bytes);
        }
      }
    }
  }
  const uncovered = upstream.images.flatMap((image) =>
    image.children.filter((c) => !covered.has(c.manifest.digest)).map((c) => `${image.repoTags[0]} ${platformKey(c.platform)}`),
  );
  expect(uncovered).toEqual([`${K3S_BUSYBOX} linux/s390x`]);
  expect(upstreamImage(K3S_TRAEFIK).children.map((c) => platformKey(c.platform))).toEqual(['linux/amd64', 'linux/arm/v6', 'linux/arm64']);
});

test('ctr exports: manifest.json names the first selected platform an image has', () => {
  const expected: Record<string, (repoTag: string) => string> = {
    amd64: () => 'linux/amd64',
    arm64: () => 'linux/arm64',
    arm: (repoTag) => (repoTag === K3S_TRAEFIK ? 'linux/arm/v6' : 'linux/arm/v7'),
  };
  for (const [arch, platformOf] of Object.entries(expected)) {
    const bundle = bundles.get(`ctr-airgap-images-${arch}`)!;
    const items = json<ManifestJsonItem[]>(bundle, 'manifest.json');
    expect(items.map((item) => item.RepoTags)).toEqual(upstream.images.map((image) => image.repoTags));
    items.forEach((item, i) => {
      const named = child(upstream.images[i].repoTags[0], platformOf(upstream.images[i].repoTags[0]));
      expect(item.Config).toBe(blobName(named.config.digest));
      expect(item.Layers).toEqual(named.layers.map((layer) => blobName(layer.digest)));
      // The gzip blobs unpack to the config's diff_ids.
      const diffIDs = item.Layers.map((layer) => sha256(gunzipSync(bundle.files.get(layer)!.data)));
      expect(diffIDs).toEqual(json<{ rootfs: { diff_ids: string[] } }>(bundle, item.Config).rootfs.diff_ids);
    });
  }
});

test('upstream media types: Docker schema2 by default, OCI for traefik and klipper-helm', () => {
  for (const image of upstream.images) {
    const types = [K3S_TRAEFIK, K3S_HELM].includes(image.repoTags[0]) ? MEDIA_TYPES.oci : MEDIA_TYPES.docker;
    const index = JSON.parse(image.index.bytes.toString()) as { mediaType: string; manifests: Descriptor[] };
    expect(index.mediaType).toBe(types.index);
    expect(index.manifests.map((m) => [m.mediaType, m.digest, m.platform])).toEqual(
      image.children.map((c) => [types.manifest, c.manifest.digest, c.platform]),
    );
    for (const c of image.children) {
      const manifest = JSON.parse(c.manifest.bytes.toString()) as { mediaType: string; config: Descriptor; layers: Descriptor[] };
      expect([manifest.mediaType, manifest.config.mediaType]).toEqual([types.manifest, types.config]);
      expect(new Set(manifest.layers.map((layer) => layer.mediaType))).toEqual(new Set([types.layer]));
      expect(JSON.parse(c.config.bytes.toString())).toMatchObject({ ...c.platform });
    }
  }
});

test('crane: config, layers, manifest.json last, sharing the upstream arm64 blobs', () => {
  const bundle = bundles.get('crane-pause-arm64')!;
  const pause = child(K3S_PAUSE, 'linux/arm64');
  const layerFiles = pause.layers.map((layer) => `${layer.digest.slice('sha256:'.length)}.tar.gz`);
  expect(bundle.names).toEqual([pause.config.digest, ...layerFiles, 'manifest.json']);
  expect(json(bundle, 'manifest.json')).toEqual([{ Config: pause.config.digest, RepoTags: [K3S_PAUSE], Layers: layerFiles }]);
  expect(bundle.files.get(pause.config.digest)!.data).toEqual(pause.config.bytes);
  expect(sha256(bundle.files.get(layerFiles[0])!.data)).toBe(pause.layers[0].digest);
});

test('identical input gives byte-identical archives', async () => {
  const again = await writeOciFixtures(path.join(workDir, 'b'));
  for (const [i, file] of written.entries()) {
    expect(sha256(await readFile(again[i]))).toBe(sha256(await readFile(file)));
  }
});

// ---------------------------------------------------------------------------
// Real peers

const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;

async function skopeo(...args: string[]): Promise<string> {
  return (await execFileAsync('skopeo', args)).stdout;
}

(hasSkopeo ? test : test.skip)('skopeo reads the docker25 layout and copies from it', async () => {
  const file = written[0];
  const pause = bundles.get('docker25-airgap-images-amd64')!;
  const [descriptor] = json<{ manifests: Descriptor[] }>(pause, 'index.json').manifests;
  expect(await skopeo('inspect', '--raw', `oci-archive:${file}:3.6`)).toBe(pause.files.get(blobName(descriptor.digest))!.data.toString());
  // Copying verifies every layer digest and size, including traefik's repeated layer.
  await skopeo('copy', '--quiet', `oci-archive:${file}:2.9.10`, `dir:${path.join(workDir, 'docker25-traefik')}`);
});

(hasSkopeo ? test : test.skip)('skopeo reads the ctr exports: the index, and present children only', async () => {
  const arm = written.find((file) => file.endsWith('ctr-airgap-images-arm.tar'))!;
  // skopeo 1.9 finds names only on OCI-typed index.json entries: traefik's index is OCI.
  expect(await skopeo('inspect', '--raw', `oci-archive:${arm}:2.9.10`)).toBe(upstreamImage(K3S_TRAEFIK).index.bytes.toString());
  const traefikV6 = path.join(workDir, 'traefik-v6');
  await skopeo('copy', '--quiet', '--override-arch', 'arm', '--override-variant', 'v6', `oci-archive:${arm}:2.9.10`, `dir:${traefikV6}`);
  expect(await readFile(path.join(traefikV6, 'manifest.json'))).toEqual(child(K3S_TRAEFIK, 'linux/arm/v6').manifest.bytes);

  // A Docker manifest list, read as the layout's only image; the same upstream index as the fixtures.
  const busyboxOnly = path.join(workDir, 'busybox-arm.tar');
  const spec = k3sLikeUpstream();
  const images = (platform: Platform) => spec.images(platform).filter((image) => image.repoTags[0] === K3S_BUSYBOX);
  await writeCtrExportBundle(busyboxOnly, { ...spec, images, platforms: CTR_BUNDLE_PLATFORMS.arm });
  expect(await skopeo('inspect', '--raw', `oci-archive:${busyboxOnly}`)).toBe(upstreamImage(K3S_BUSYBOX).index.bytes.toString());
  for (const variant of ['v6', 'v7']) {
    const dir = path.join(workDir, `busybox-${variant}`);
    await skopeo('copy', '--quiet', '--override-arch', 'arm', '--override-variant', variant, `oci-archive:${busyboxOnly}`, `dir:${dir}`);
    expect(await readFile(path.join(dir, 'manifest.json'))).toEqual(child(K3S_BUSYBOX, `linux/arm/${variant}`).manifest.bytes);
  }
  // s390x is listed in the index but is in no bundle.
  const s390x = skopeo(
    'copy',
    '--quiet',
    '--override-arch',
    's390x',
    `oci-archive:${busyboxOnly}`,
    `dir:${path.join(workDir, 'busybox-s390x')}`,
  );
  await expect(s390x).rejects.toThrow(/no such file/);
});

(hasSkopeo ? test : test.skip)('skopeo reads the crane tarball', async () => {
  const crane = written.find((file) => file.endsWith('crane-pause-arm64.tar'))!;
  const inspected = JSON.parse(await skopeo('inspect', `docker-archive:${crane}`)) as { Architecture: string; Layers: string[] };
  const config = JSON.parse(child(K3S_PAUSE, 'linux/arm64').config.bytes.toString()) as { rootfs: { diff_ids: string[] } };
  expect(inspected).toMatchObject({ Architecture: 'arm64', Layers: config.rootfs.diff_ids });
  await skopeo('copy', '--quiet', `docker-archive:${crane}`, `dir:${path.join(workDir, 'crane-pause')}`);
});

// ---------------------------------------------------------------------------
// containerd: our own daemon, in a temp dir, with a fresh namespace per bundle

const canRunContainerd =
  process.getuid?.() === 0 && spawnSync('containerd', ['--version']).status === 0 && spawnSync('ctr', ['--version']).status === 0;

class Containerd {
  private constructor(
    private readonly process: ChildProcess,
    private readonly socket: string,
  ) {}

  static async start(dir: string): Promise<Containerd> {
    const socket = path.join(dir, 'containerd.sock');
    const config = path.join(dir, 'config.toml');
    await writeFile(
      config,
      [
        'version = 2',
        `root = "${path.join(dir, 'root')}"`,
        `state = "${path.join(dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        `[grpc]\n  address = "${socket}"`,
        `[ttrpc]\n  address = "${path.join(dir, 'ttrpc.sock')}"`,
      ].join('\n'),
    );
    const daemon = new Containerd(spawn('containerd', ['--config', config], { stdio: 'ignore' }), socket);
    for (let waited = 0; !existsSync(socket); waited += 100) {
      if (waited > 10_000) throw new Error('containerd did not start');
      await sleep(100);
    }
    return daemon;
  }

  async ctr(namespace: string, ...args: string[]): Promise<string> {
    return (await execFileAsync('ctr', ['--address', this.socket, '--namespace', namespace, ...args])).stdout;
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await exited;
  }
}

/** Entries without the tar writers' formatting: name, type, mode, size, mtime, uid. */
function headers(bundle: Bundle): string[] {
  return [...bundle.files.values()].map(({ header }) =>
    [header.name, header.type, header.mode?.toString(8), header.size, header.mtime?.getTime(), header.uid].join(' '),
  );
}

function sortedJson(items: unknown[]): string[] {
  return items.map((item) => JSON.stringify(item)).sort();
}

(canRunContainerd ? test : test.skip)('containerd imports the ctr exports and exports them back the same', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ctrd-'));
  const daemon = await Containerd.start(dir);
  try {
    for (const arch of ['amd64', 'arm64']) {
      const [platform] = CTR_BUNDLE_PLATFORMS[arch].map(platformKey);
      const ours = written.find((file) => file.endsWith(`ctr-airgap-images-${arch}.tar`))!;
      await daemon.ctr(arch, 'images', 'import', '--no-unpack', '--platform', platform, ours);
      const names = (await daemon.ctr(arch, 'images', 'ls', '-q')).trim().split('\n');
      const theirs = path.join(dir, `export-${arch}.tar`);
      await daemon.ctr(arch, 'images', 'export', '--platform', platform, theirs, ...names);

      const [a, b] = [bundles.get(`ctr-airgap-images-${arch}`)!, await loadBundle(theirs)];
      expect(headers(b)).toEqual(headers(a));
      for (const blob of blobNames(a)) expect(b.files.get(blob)!.data).toEqual(a.files.get(blob)!.data);
      // Same entries; ctr orders them by image name, and manifest.json by map iteration.
      const indexOf = (bundle: Bundle) => json<{ manifests: unknown[] }>(bundle, 'index.json');
      expect(sortedJson(indexOf(b).manifests)).toEqual(sortedJson(indexOf(a).manifests));
      expect(sortedJson(json<unknown[]>(b, 'manifest.json'))).toEqual(sortedJson(json<unknown[]>(a, 'manifest.json')));
    }
    // The arm bundle imports for either variant; traefik exists there only as arm/v6.
    const arm = written.find((file) => file.endsWith('ctr-airgap-images-arm.tar'))!;
    await daemon.ctr('armv6', 'images', 'import', '--no-unpack', '--platform', 'linux/arm/v6', arm);
    const traefikV6 = await daemon.ctr('armv6', 'content', 'get', child(K3S_TRAEFIK, 'linux/arm/v6').manifest.digest);
    expect(traefikV6).toBe(child(K3S_TRAEFIK, 'linux/arm/v6').manifest.bytes.toString());
    await daemon.ctr('armv7', 'images', 'import', '--no-unpack', '--platform', 'linux/arm/v7', arm);
  } finally {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
