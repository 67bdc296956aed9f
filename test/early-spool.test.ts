/**
 * Scans that spool layers on their way (early-spool.ts): what the plan wants is handed over
 * without a second pass, the rest deleted; jobs asking for something else go to a second
 * pass; plain tars, filtered loads and a short disk scan without spooling; a spool that fails
 * falls back to a plain scan. And what every spool pass does at its end: stop after the last
 * entry it wants, or fail when one is gone.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { copyFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { layerKey, type ScannedArchive, type SourceLayer } from '../src/archive/model.js';
import { readArchive } from '../src/archive/read.js';
import { scanArchive } from '../src/archive/scan.js';
import { load } from '../src/index.js';
import { type Digest, digestHex } from '../src/oci/digest.js';
import { formatBytes } from '../src/progress/format.js';
import { type SpoolJob, spoolInWorker } from '../src/load/archive-reader.js';
import type { CompressionChoice, SpooledBlob } from '../src/load/compress.js';
import { EarlySpools } from '../src/load/early-spool.js';
import { type TestImage, writeTestBundle } from './helpers/bundles.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { bytesReadByThisProcess, bytesWrittenByThisProcess, packed } from './helpers/tar.js';
import { tempDir } from './helpers/tools.js';
import { readTarItems, type TarItem, writeTarItems } from './helpers/bad-bundles.js';
import type { LoadEvent } from '../src/load/events.js';

const gzip1: CompressionChoice = { algorithm: 'gzip', level: 1 };
const MiB = 1024 * 1024;
const fixture = (name: string) => join(import.meta.dirname, '..', 'fixtures', name);

function layersOf(archive: ScannedArchive): SourceLayer[] {
  return [...new Map(archive.images.flatMap((image) => image.layers).map((layer) => [layer.entry, layer])).values()];
}

/** The jobs a load gives a spool pass: uncompressed layers compressed, blobs copied. */
const jobsFor = (dir: string, layers: SourceLayer[]): SpoolJob[] =>
  layers.map((layer) => ({
    entry: layer.entry,
    file: join(dir, digestHex(layerKey(layer))),
    compression: layer.kind === 'tar' ? gzip1 : undefined,
  }));

/** A gzipped copy of a fixture, in `dir`. */
async function gzipped(dir: string, name: string): Promise<string> {
  const file = join(dir, `${name}.gz`);
  await writeFile(file, gzipSync(await readFile(fixture(name))));
  return file;
}

/** Scans `file` as a load does, spooling if it may. */
async function scanned(file: string, options: { filtered?: boolean; known?: Digest[] } = {}) {
  const spoolDir = await tempDir('airlift-early-');
  const notices: string[] = [];
  const early = await EarlySpools.open(spoolDir, gzip1, {
    filtered: Boolean(options.filtered),
    onNotice: (m) => notices.push(m),
    known: options.known ?? [],
  });
  const archive = await readArchive({ path: file, file }, undefined, early.scanner(scanArchive));
  return { spoolDir, early, archive, notices, blobs: early.take(file) };
}

async function handedOver(blobs: NonNullable<ReturnType<EarlySpools['take']>>, jobs: SpoolJob[]) {
  const handed = new Map<string, SpooledBlob>();
  await blobs.handOver(jobs, async (entry, blob) => void handed.set(entry, blob));
  return handed;
}

describe.each([
  ['a docker save bundle with uncompressed layers', 'k3s-airgap-images-amd64.tar'],
  ['a ctr export with compressed blobs', 'ctr-airgap-images-amd64.tar'],
])('%s, gzipped', (_name, name) => {
  test('the scan spools every layer, checked and compressed as the plan asks: nothing is left for a second pass', async () => {
    const { spoolDir, archive, blobs } = await scanned(await gzipped(await tempDir('airlift-early-'), name));
    const layers = layersOf(archive);
    const jobs = jobsFor(spoolDir, layers);
    expect(blobs!.unspooled(jobs)).toEqual([]);
    const handed = await handedOver(blobs!, jobs);
    expect([...handed.keys()].sort()).toEqual(layers.map((layer) => layer.entry).sort());
    for (const layer of layers) {
      const blob = handed.get(layer.entry)!;
      expect(blob.inputDigest).toBe(layerKey(layer));
      expect(blob.compression).toEqual(layer.kind === 'tar' ? gzip1 : undefined);
      expect((await stat(blob.file)).size).toBe(blob.size);
      if (layer.kind === 'blob') expect(blob.digest).toBe(layer.descriptor.digest);
    }
  });
});

test('jobs the scan did not spool as asked are left for a second pass; blobs no job wants are deleted', async () => {
  const { spoolDir, archive, blobs } = await scanned(await gzipped(await tempDir('airlift-early-'), 'k3s-airgap-images-amd64.tar'));
  const [asked, copied] = layersOf(archive) as [SourceLayer, SourceLayer];
  const config = `${digestHex(archive.images[0]!.config.digest)}.json`;
  const jobs = [
    ...jobsFor(spoolDir, [asked]),
    { entry: copied.entry, file: join(spoolDir, 'copy') },
    { entry: config, file: join(spoolDir, 'config') },
  ];
  expect(
    blobs!
      .unspooled(jobs)
      .map((job) => job.entry)
      .sort(),
  ).toEqual([copied.entry, config].sort());
  const handed = await handedOver(blobs!, jobs);
  expect([...handed.keys()]).toEqual([asked.entry]);
  // The spool files of every other entry are gone; the one handed over is the caller's.
  expect(await readdir(spoolDir)).toEqual([handed.get(asked.entry)!.file.split('/').pop()]);
});

test('a layer several archives hold under one name is spooled by one scan only, and read from the archive that spooled it', async () => {
  const spoolDir = await tempDir('airlift-early-');
  const early = await EarlySpools.open(spoolDir, gzip1, { filtered: false, onNotice: () => {}, known: [] });
  const files = ['amd64', 'arm64', 'arm'].map((arch) => fixture(`k3s-airgap-images-${arch}.tar.gz`));
  // Scanned at once, as a load scans a kit.
  const archives = await Promise.all(files.map((file) => readArchive({ path: file, file }, undefined, early.scanner(scanArchive))));
  const sameIn = (archive: ScannedArchive, layer: SourceLayer) =>
    layersOf(archive).find((other) => other.entry === layer.entry && other.size === layer.size);
  // The fixtures' CA layer is the same on every arch, under the same name.
  const shared = layersOf(archives[0]!).filter((layer) => archives.every((archive) => sameIn(archive, layer)));
  expect(shared).not.toEqual([]);
  for (const layer of shared) {
    const plans = archives.map((archive) => ({
      key: layerKey(layer),
      archive: archive.path,
      source: sameIn(archive, layer)!,
      repositories: ['r'],
    }));
    expect(new Set(plans.map((plan) => early.relocated(plan, archives).archive)).size).toBe(1);
  }
  const holders = (layer: SourceLayer) =>
    archives.filter(
      (archive) =>
        early.relocated({ key: layerKey(layer), archive: archive.path, source: layer, repositories: ['r'] }, archives).archive ===
        archive.path,
    );
  expect(shared.map((layer) => holders(layer).length)).toEqual(shared.map(() => 1));
  const holder = new Map(shared.map((layer) => [layer.entry, holders(layer)[0]!]));
  const blobs = new Map(archives.map((archive) => [archive.path, early.take(archive.path)!]));
  for (const archive of archives) {
    for (const layer of layersOf(archive)) {
      // Each archive spooled its own layers, and the shared ones only where they are read from.
      const spooledHere = (holder.get(layer.entry) ?? archive) === archive;
      expect(blobs.get(archive.path)!.unspooled(jobsFor(spoolDir, [layer]))).toHaveLength(spooledHere ? 0 : 1);
    }
  }
});

test('an OCI layout layer named by a diff_id this machine compressed before is not spooled on a guess', async () => {
  const file = await gzipped(await tempDir('airlift-early-'), 'docker25-airgap-images-amd64.tar');
  const all = layersOf((await scanned(file)).archive);
  const known = all.find((layer) => layer.entry.endsWith(digestHex(layerKey(layer))))!;
  const { spoolDir, blobs } = await scanned(file, { known: [layerKey(known)] });
  const jobs = jobsFor(spoolDir, all);
  expect(blobs!.unspooled(jobs)).toEqual(jobs.filter((job) => job.entry === known.entry));
});

test('a plain tar is scanned by its headers, without spooling: nothing to inflate twice, and the plan comes at once', async () => {
  const { blobs, spoolDir } = await scanned(fixture('k3s-airgap-images-amd64.tar'));
  expect(blobs).toBeUndefined();
  expect(await readdir(spoolDir)).toEqual([]);
});

test('a filtered load scans without spooling', async () => {
  const { blobs } = await scanned(fixture('k3s-airgap-images-amd64.tar.gz'), { filtered: true });
  expect(blobs).toBeUndefined();
});

test('an archive whose layers the spool directory has no room for is scanned without spooling, with a notice', async () => {
  const spoolDir = await tempDir('airlift-early-');
  const notices: string[] = [];
  const file = fixture('k3s-airgap-images-amd64.tar.gz');
  const { size } = await stat(file);
  // 1 GiB is always left free; the layers may take twice the archive.
  const free = 1024 * MiB + 2 * size - 1;
  const early = await EarlySpools.open(spoolDir, gzip1, { filtered: false, onNotice: (m) => notices.push(m), known: [], free });
  await readArchive({ path: file, file }, undefined, early.scanner(scanArchive));
  expect(early.take(file)).toBeUndefined();
  expect(notices).toEqual([
    `${file}: reading it twice, as ${spoolDir} has too little free space to keep its layers (~${formatBytes(2 * size)}) until the plan; point TMPDIR at a larger disk to read it once`,
  ]);
  const roomy = await EarlySpools.open(spoolDir, gzip1, { filtered: false, onNotice: (m) => notices.push(m), known: [], free: free + 1 });
  await readArchive({ path: file, file }, undefined, roomy.scanner(scanArchive));
  expect(roomy.take(file)).toBeDefined();
});

test('a spool that fails (its directory gone, as a full disk would fail it) falls back to a plain scan, with a notice', async () => {
  const spoolDir = await tempDir('airlift-early-');
  const notices: string[] = [];
  const early = await EarlySpools.open(spoolDir, gzip1, { filtered: false, onNotice: (m) => notices.push(m), known: [] });
  await rm(spoolDir, { recursive: true });
  const file = fixture('k3s-airgap-images-amd64.tar.gz');
  let read = 0;
  const archive = await readArchive({ path: file, file }, (n) => (read += n), early.scanner(scanArchive));
  expect(archive.images.length).toBeGreaterThan(0);
  expect(early.take(file)).toBeUndefined();
  expect(notices).toEqual([expect.stringMatching(/cannot spool its layers while scanning it \(.*ENOENT.*\); reading it twice instead$/)]);
  // What the failed scan counted is taken back: progress ends at the file's size.
  expect(read).toBe((await stat(file)).size);
});

describe('a load', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  /** A gzip bundle of images with a random layer each, stored (gzip level 0): every pass over it reads them whole. */
  async function bundle(images: TestImage[]): Promise<string> {
    const dir = await tempDir('airlift-early-');
    const tar = await writeTestBundle(dir, 'bundle', images);
    const file = `${tar}.gz`;
    await writeFile(file, gzipSync(await readFile(tar), { level: 0 }));
    return file;
  }

  test('reads a compressed archive once when it wants every layer', async () => {
    const file = await bundle([{ repoTag: 'early/app:1', kib: 16 * 1024 }]);
    const { size } = await stat(file);
    const before = await bytesReadByThisProcess();
    const result = await load({ archives: [file], registry: registry.host, plainHttp: true, cacheDir: null });
    const read = (await bytesReadByThisProcess()) - before;
    expect(result.failures).toEqual([]);
    expect(result.images.map((image) => image.target)).toEqual([`${registry.host}/early/app:1`]);
    // The scan reads the archive once, the upload its spooled random layer (stored, ~16 MiB);
    // a second pass over the archive would add 16 MiB more.
    expect(read).toBeGreaterThan(size);
    expect(read).toBeLessThan(size + 16 * MiB + 8 * MiB);
  });

  test('two archives holding different layers under one name and size: each is loaded as its own (the second read again for it)', async () => {
    const dir = await tempDir('airlift-early-');
    const [x, y] = await Promise.all(
      ['x', 'y'].map(async (name) => readTarItems(await writeTestBundle(dir, name, [{ repoTag: `early/${name}:1`, kib: 256 }]))),
    );
    const topLayer = (items: TarItem[]) => {
      const [manifest] = JSON.parse(items.find((item) => item.header.name === 'manifest.json')!.body.toString()) as Array<{
        Layers: string[];
      }>;
      return manifest!.Layers.at(-1)!;
    };
    const size = (items: TarItem[], name: string) => items.find((item) => item.header.name === name)!.body.length;
    expect(size(y, topLayer(y))).toBe(size(x, topLayer(x)));
    // y's random layer (a different one) under the name x's has, in y's manifest too.
    const [idX, idY] = [topLayer(x), topLayer(y)].map((layer) => layer.split('/')[0]!) as [string, string];
    const renamed = y.map(({ header, body }) => ({
      header: { ...header, name: header.name.replaceAll(idY, idX), linkname: header.linkname?.replaceAll(idY, idX) },
      body: header.name.endsWith('layer.tar') ? body : Buffer.from(body.toString('latin1').replaceAll(idY, idX), 'latin1'),
    }));
    const [fileX, fileY] = [join(dir, 'x.tar.gz'), join(dir, 'y.tar.gz')];
    await writeTarItems(fileX, x, { gzip: true });
    await writeTarItems(fileY, renamed, { gzip: true });
    const events: LoadEvent[] = [];
    const result = await load({
      archives: [fileX, fileY],
      registry: registry.host,
      plainHttp: true,
      cacheDir: null,
      onEvent: (e) => events.push(e),
    });
    expect(result.failures).toEqual([]);
    expect(result.images.map((image) => image.target).sort()).toEqual([`${registry.host}/early/x:1`, `${registry.host}/early/y:1`]);
    // One scan spooled the name; the other archive's layer, a different one, took a second pass.
    const uploading = events.findIndex((e) => e.type === 'phase' && e.phase === 'uploading');
    expect(events.slice(uploading).some((e) => e.type === 'read')).toBe(true);
  });

  test('does not compress again, on a guess, a bundle whose layers it compressed before (a re-copied bundle: the scan cache misses)', async () => {
    const file = await bundle(['a', 'b', 'c'].map((name) => ({ repoTag: `early/${name}:1`, kib: 8 * 1024 })));
    const cacheDir = await tempDir('airlift-early-cache-');
    const options = { registry: registry.host, plainHttp: true, cacheDir };
    expect((await load({ ...options, archives: [file] })).failures).toEqual([]);
    const copy = join(await tempDir('airlift-early-'), 'copy.tar.gz');
    await copyFile(file, copy);
    const before = await bytesWrittenByThisProcess();
    const again = await load({ ...options, archives: [copy] });
    expect(again.failures).toEqual([]);
    expect(again.bytesUploaded).toBe(0);
    // The scan learns that an archive is loaded already from the first layer it spools (a legacy
    // docker save names layers by a chain id, not their diff_id): at most one random layer of
    // three is spooled, and spooling them all on a guess would write 24 MiB.
    expect((await bytesWrittenByThisProcess()) - before).toBeLessThan(10 * MiB);
  });
});

describe('any spool pass', () => {
  const plain = fixture('k3s-airgap-images-amd64.tar');

  // (A plain tar is walked by its headers and never reads an unwanted body: a compressed one shows the stop.)
  test('stops reading after the last entry it wants, and counts the rest as walked past', async () => {
    const dir = await tempDir('airlift-spool-');
    const file = join(dir, 'bundle.tar.gz');
    const tarBytes = await packed([
      { name: 'small/layer.tar', body: Buffer.alloc(4096, 1) },
      { name: 'big/layer.tar', body: randomBytes(16 * MiB) },
    ]);
    await writeFile(file, gzipSync(tarBytes, { level: 1 }));
    let reported = 0;
    const spooled: string[] = [];
    const before = await bytesReadByThisProcess();
    await spoolInWorker(
      { source: { path: file, file }, compression: 'gzip', jobs: [{ entry: 'small/layer.tar', file: join(dir, 'small') }] },
      async (entry) => void spooled.push(entry),
      (n) => (reported += n),
    );
    expect(spooled).toEqual(['small/layer.tar']);
    // A worker's start-up reads its modules: a few hundred KB, against the 16 MiB left unread.
    expect((await bytesReadByThisProcess()) - before).toBeLessThan(4 * MiB);
    expect(reported).toBe((await stat(file)).size);
  });

  test('an entry the archive no longer holds fails the pass: the file changed while airlift read it', async () => {
    const archive = await readArchive({ path: plain, file: plain });
    const jobs = [{ entry: 'gone/layer.tar', file: join(await tempDir('airlift-spool-'), 'gone') }];
    await expect(
      spoolInWorker(
        { source: archive, compression: archive.compression, jobs },
        async () => {},
        () => {},
      ),
    ).rejects.toThrow(/entries gone\/layer\.tar disappeared between passes: the file changed while airlift read it/);
  });
});
