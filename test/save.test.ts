/**
 * `airlift save` from a real registry (seeded by `airlift load`: eight tags, three platforms
 * each) into offline kits, judged by real readers: sha256sum, skopeo, containerd's `ctr images
 * import`, `docker load` where dockerd is available, and `airlift load` for the --legacy layout.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { DecompressStream } from 'zstd-napi';
import { startContainerd } from './helpers/containerd.js';
import { startDockerd } from './helpers/dockerd.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { rawManifest, seededImageList, seededImages, type SeededImage, seedRegistry, someSeededImages } from './helpers/seed.js';
import { runAirlift, type RunResult, runOrThrow, skopeo, tempDir } from './helpers/tools.js';

interface SaveJson {
  bundles: Array<{
    file: string;
    platforms: string[];
    sha256: string;
    images: Array<{ name: string; digest: string; platforms: Array<{ platform: string; manifestDigest: string; configDigest: string }> }>;
  }>;
  checksums: string;
}

interface IndexJson {
  manifests: Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>;
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const hostPlatform = process.arch === 'arm64' ? 'linux/arm64' : 'linux/amd64';
const bundleArch = { 'linux/amd64': 'amd64', 'linux/arm64': 'arm64', 'linux/arm/v7': 'arm' } as const;

let a: Registry;
let b: Registry;
let seeded: SeededImage[];
let imageList: string;

beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  seeded = await seedRegistry(a);
  imageList = await seededImageList();
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const saveFromA = (args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) =>
  runAirlift(['save', '--from', a.host, '--plain-http', ...args], opts);

const expectSuccess = (result: RunResult) => expect(result.code === 0 ? 'exit 0' : result.stderr).toBe('exit 0');

/** The source's per-platform digests of a seeded image (`rancher/x:y`). */
const sourceOf = (image: string, platform: string) =>
  seeded.find((s) => s.target === `${a.host}/${image}`)!.platforms.find((p) => p.platform === platform)!;

describe('default: one OCI-layout bundle per architecture', () => {
  let out: string;
  let result: SaveJson;

  beforeAll(async () => {
    out = await tempDir('airlift-kit-');
    const saved = await saveFromA([
      '--image-list',
      imageList,
      '--platform',
      'linux/amd64,linux/arm64',
      '--platform',
      'linux/arm/v7',
      '--out',
      out,
      '--json',
    ]);
    expectSuccess(saved);
    result = JSON.parse(saved.stdout) as SaveJson;
  });

  test('files are named like k3s bundles, and sha256sum -c accepts SHA256SUMS', async () => {
    expect((await readdir(out)).sort()).toEqual([
      'SHA256SUMS',
      'airgap-images-amd64.tar.gz',
      'airgap-images-arm.tar.gz',
      'airgap-images-arm64.tar.gz',
    ]);
    const checked = await runOrThrow('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out });
    expect(checked.trim().split('\n')).toHaveLength(3);
    expect(checked).not.toMatch(/FAILED/);
  });

  test('metadata comes first; index.json names every image with its ORIGINAL manifest; every blob matches its digest', async () => {
    for (const [platform, arch] of Object.entries(bundleArch)) {
      const bundle = await readTar(join(out, `airgap-images-${arch}.tar.gz`));
      expect(bundle.names.slice(0, 3)).toEqual(['oci-layout', 'index.json', 'manifest.json']);
      const index = JSON.parse(bundle.files.get('index.json')!.toString()) as IndexJson;
      expect(index.manifests.map((m) => m.annotations['io.containerd.image.name']).sort()).toEqual(
        seededImages.map((i) => `docker.io/${i}`),
      );
      for (const entry of index.manifests) {
        const image = entry.annotations['io.containerd.image.name']!.slice('docker.io/'.length);
        expect(entry.digest).toBe(sourceOf(image, platform).manifestDigest);
        expect(entry.annotations['org.opencontainers.image.ref.name']).toBe(image.split(':')[1]);
      }
      for (const [name, bytes] of bundle.files) {
        if (name.startsWith('blobs/sha256/')) expect(sha256(bytes)).toBe(`sha256:${name.slice('blobs/sha256/'.length)}`);
      }
      const dockerManifest = JSON.parse(bundle.files.get('manifest.json')!.toString()) as Array<{
        Config: string;
        RepoTags: string[];
        Layers: string[];
      }>;
      expect(dockerManifest.flatMap((m) => m.RepoTags).sort()).toEqual(seededImages.map((i) => `docker.io/${i}`));
      for (const item of dockerManifest) for (const file of [item.Config, ...item.Layers]) expect(bundle.files.has(file)).toBe(true);
    }
    expect(result.bundles.find((x) => x.file.endsWith('-arm.tar.gz'))!.platforms).toEqual(['linux/arm/v7']);
  });

  test('skopeo copies an image out of a bundle with its manifest digest intact', async () => {
    const target = `${b.host}/from-kit/mirrored-pause:arm64`;
    await skopeo(['copy', '--dest-tls-verify=false', `oci-archive:${join(out, 'airgap-images-arm64.tar.gz')}:3.6`, `docker://${target}`]);
    expect(sha256(await rawManifest(target))).toBe(sourceOf('rancher/mirrored-pause:3.6', 'linux/arm64').manifestDigest);
  });

  test('airlift load reads the bundles back with every manifest digest preserved, and so the same index digests', async () => {
    const files = (await readdir(out)).filter((f) => f.endsWith('.tar.gz')).map((f) => join(out, f));
    const loaded = await runAirlift(['load', '--registry', `${b.host}/from-oci-kit`, '--plain-http', '--json', '-q', ...files], {
      env: { XDG_CACHE_HOME: await tempDir('airlift-cache-') },
    });
    expectSuccess(loaded);
    const images = (JSON.parse(loaded.stdout) as { images: SeededImage[] }).images;
    expect(images.map((i) => i.target)).toEqual(seeded.map((s) => s.target.replace(a.host, `${b.host}/from-oci-kit`)));
    for (const [i, image] of images.entries()) {
      expect(image.platforms).toEqual(seeded[i]!.platforms);
      expect(image.indexDigest).toBe(seeded[i]!.indexDigest);
    }
  });

  test('ctr images import takes every bundle with the source digests (ctr 1.6 reads plain tar: gunzip first)', async () => {
    const containerd = await startContainerd();
    if (!containerd) {
      console.log('containerd is not available; skipping');
      return;
    }
    try {
      const dir = await tempDir('airlift-ctr-');
      for (const [platform, arch] of Object.entries(bundleArch)) {
        const plain = join(dir, `${arch}.tar`);
        await runOrThrow('sh', ['-c', `gunzip -c "$0" > "$1"`, join(out, `airgap-images-${arch}.tar.gz`), plain]);
        await containerd.ctr(['images', 'import', '--all-platforms', plain]);
        const listed = await containerd.ctr(['images', 'ls']);
        for (const image of seededImages) {
          const line = listed.split('\n').find((l) => l.startsWith(`docker.io/${image} `));
          // The whole listing on failure: one intermittent failure here was never reproduced.
          expect({ image, digest: line?.split(/\s+/)[2], listed }).toEqual({
            image,
            digest: sourceOf(image, platform).manifestDigest,
            listed,
          });
        }
      }
    } finally {
      await containerd.stop();
    }
  });
});

test('--legacy: docker save layout with uncompressed layers; airlift load gives back the same platforms and configs', async () => {
  const out = await tempDir('airlift-kit-legacy-');
  const args = [
    ...someSeededImages,
    '--platform',
    'linux/amd64,linux/arm64,linux/arm/v7',
    '--legacy',
    '--name',
    'k3s-airgap-images',
    '--out',
    out,
    '-q',
  ];
  expectSuccess(await saveFromA(args));
  const files = (await readdir(out)).filter((f) => f.endsWith('.tar.gz')).sort();
  expect(files).toEqual(['k3s-airgap-images-amd64.tar.gz', 'k3s-airgap-images-arm.tar.gz', 'k3s-airgap-images-arm64.tar.gz']);
  const bundle = await readTar(join(out, files[0]!));
  expect(bundle.names[0]).toBe('manifest.json');
  const layers = bundle.names.filter((n) => n.endsWith('/layer.tar'));
  // 3 + 5 + 1 layers, stored once each: the alpine base is shared, traefik's empty layer repeats.
  expect(layers).toHaveLength(7);
  for (const layer of layers) expect(sha256(bundle.files.get(layer)!)).toBe(`sha256:${layer.split('/')[0]}`);

  const loaded = await runAirlift(
    ['load', '--registry', `${b.host}/roundtrip`, '--plain-http', '--json', '-q', ...files.map((f) => join(out, f))],
    {
      env: { XDG_CACHE_HOME: await tempDir('airlift-cache-') },
    },
  );
  expectSuccess(loaded);
  const images = (JSON.parse(loaded.stdout) as { images: SeededImage[] }).images;
  expect(images).toHaveLength(someSeededImages.length);
  for (const image of images) {
    const source = seeded.find((s) => s.target === image.target.replace(`${b.host}/roundtrip`, a.host))!;
    expect(image.platforms.map((p) => [p.platform, p.configDigest])).toEqual(source.platforms.map((p) => [p.platform, p.configDigest]));
    // Both sides were compressed by load's deterministic gzip, so even the indexes match.
    expect(image.indexDigest).toBe(source.indexDigest);
  }
});

test('--multi-arch --compression zstd: one archive keeping each upstream index, copied by skopeo with its digest', async () => {
  const out = await tempDir('airlift-kit-multi-');
  const images = ['rancher/mirrored-pause:3.6', 'rancher/klipper-lb:v0.4.4'];
  expectSuccess(
    await saveFromA([
      ...images,
      '--platform',
      'linux/amd64,linux/arm64,linux/arm/v7',
      '--multi-arch',
      '--compression',
      'zstd',
      '--out',
      out,
      '-q',
    ]),
  );
  expect((await readdir(out)).sort()).toEqual(['SHA256SUMS', 'airgap-images.tar.zst']);
  const plain = join(out, 'airgap-images.tar');
  await pipeline(createReadStream(join(out, 'airgap-images.tar.zst')), new DecompressStream(), createWriteStream(plain));
  const bundle = await readTar(plain);
  expect(bundle.names.slice(0, 3)).toEqual(['oci-layout', 'index.json', 'manifest.json']);
  const index = JSON.parse(bundle.files.get('index.json')!.toString()) as IndexJson;
  for (const [i, image] of images.entries()) {
    const source = seeded.find((s) => s.target === `${a.host}/${image}`)!;
    expect(index.manifests[i]).toMatchObject({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: source.indexDigest });
  }
  const target = `${b.host}/multi/mirrored-pause:3.6`;
  await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci-archive:${plain}:3.6`, `docker://${target}`]);
  expect(sha256(await rawManifest(target))).toBe(seeded.find((s) => s.target === `${a.host}/rancher/mirrored-pause:3.6`)!.indexDigest);
});

test('docker load accepts the default and the --legacy bundle', async () => {
  const dockerd = await startDockerd();
  if (!dockerd) {
    console.log('dockerd is not available; skipping');
    return;
  }
  try {
    const arch = bundleArch[hostPlatform];
    for (const legacy of [false, true]) {
      const out = await tempDir('airlift-kit-docker-');
      expectSuccess(
        await saveFromA([
          'rancher/mirrored-pause:3.6',
          'rancher/klipper-lb:v0.4.4',
          '--platform',
          hostPlatform,
          '--out',
          out,
          '-q',
          ...(legacy ? ['--legacy'] : []),
        ]),
      );
      const loaded = await dockerd.docker(['load', '-i', join(out, `airgap-images-${arch}.tar.gz`)]);
      expect(loaded).toMatch(/Loaded image: .*mirrored-pause:3\.6/);
      for (const image of ['rancher/mirrored-pause:3.6', 'rancher/klipper-lb:v0.4.4']) {
        const id = (await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', image])).trim();
        expect(id).toBe(sourceOf(image, hostPlatform).configDigest);
      }
      await dockerd.docker(['rmi', 'rancher/mirrored-pause:3.6', 'rancher/klipper-lb:v0.4.4']);
    }
  } finally {
    await dockerd.stop();
  }
});

test('a missing platform or image stops the save before any file is written, naming every problem', async () => {
  const out = join(await tempDir('airlift-kit-bad-'), 'kit');
  const bad = await saveFromA(['rancher/mirrored-pause:3.6', 'rancher/nope:1', '--platform', 'linux/s390x', '--out', out]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/mirrored-pause:3\.6 has no linux\/s390x image \(it has linux\/amd64, linux\/arm\/v7, linux\/arm64\)/);
  expect(bad.stderr).toMatch(/rancher\/nope:1 does not exist/);
  expect(await readdir(out).catch(() => [])).toEqual([]);

  const usage = await runAirlift(['save', '--from', a.host, '--out', out, 'x:1']);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toMatch(/platform/);
});

test('a blob the registry serves corrupt fails the save, and no bundle or partial file is left', async () => {
  const manifest = JSON.parse(
    await rawManifest(`${a.host}/rancher/mirrored-pause@${sourceOf('rancher/mirrored-pause:3.6', 'linux/arm64').manifestDigest}`),
  );
  const hex = (manifest.layers[0].digest as string).slice('sha256:'.length);
  const data = join(a.dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  const original = await readFile(data);
  await writeFile(data, 'not the layer');
  try {
    const out = await tempDir('airlift-kit-corrupt-');
    const corrupt = await saveFromA(['rancher/klipper-lb:v0.4.4', 'rancher/mirrored-pause:3.6', '--platform', 'linux/arm64', '--out', out]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(
      new RegExp(`blob sha256:${hex.slice(0, 12)} of .*mirrored-pause arrived as 13 bytes .*the registry serves corrupt data`),
    );
    expect(await readdir(out)).toEqual([]);
  } finally {
    await writeFile(data, original);
  }
});

test('interrupted (SIGINT) while a bundle is written, save leaves neither the partial bundle nor its spool directory', async () => {
  const manifest = JSON.parse(
    await rawManifest(`${a.host}/rancher/mirrored-pause@${sourceOf('rancher/mirrored-pause:3.6', 'linux/arm64').manifestDigest}`),
  );
  const proxy = await startFaultProxy(a.host);
  try {
    proxy.setFaults([{ method: 'GET', url: new RegExp(`/blobs/${manifest.layers[0].digest}`), fault: { hang: true } }]);
    const out = await tempDir('airlift-kit-interrupted-');
    let pid = 0;
    const saving = runAirlift(
      ['save', '--from', proxy.host, '--plain-http', 'rancher/mirrored-pause:3.6', '--platform', 'linux/arm64', '--out', out],
      {
        onStart: (started) => (pid = started),
      },
    );
    const written = async () => (await readdir(out)).some((name) => name.endsWith('.partial'));
    for (let tries = 0; !(await written()); tries++) {
      if (tries > 300) throw new Error(`no partial bundle in ${out}: ${(await saving).stderr}`);
      await sleep(50);
    }
    expect((await readdir(out)).some((name) => name.startsWith('.airlift-spool-'))).toBe(true);
    process.kill(pid, 'SIGINT');
    expect((await saving).code).toBe(130);
    expect(await readdir(out)).toEqual([]);
  } finally {
    await proxy.stop();
  }
});

/** Every entry of a tar (gzip or plain), in order, with its bytes. */
async function readTar(file: string): Promise<{ names: string[]; files: Map<string, Buffer> }> {
  const extract = tar.extract();
  const raw: Readable = createReadStream(file);
  (file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw).pipe(extract);
  const names: string[] = [];
  const files = new Map<string, Buffer>();
  for await (const entry of extract) {
    const name = entry.header.name.replace(/\/$/, '');
    names.push(name);
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (entry.header.type === 'file') files.set(name, Buffer.concat(chunks));
  }
  return { names, files };
}
