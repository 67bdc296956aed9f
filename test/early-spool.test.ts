/**
 * Spool passes started beside the scan (early-spool.ts): they spool what may be a layer until
 * the plan arrives, hand over what the plan wants, drop the rest, and leave to a second pass
 * only what they passed before the plan without spooling it as asked. And what every spool
 * pass does at its end: stop after the last entry it wants, or fail when one is gone.
 */
import { describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { layerKey, type ScannedArchive, type SourceLayer } from '../src/archive/model.js';
import { readArchive } from '../src/archive/read.js';
import { type ArchiveContents, scanArchive } from '../src/archive/scan.js';
import { digestHex } from '../src/oci/digest.js';
import { type SpoolJob, spoolInWorker } from '../src/load/archive-reader.js';
import type { CompressionChoice, SpooledBlob } from '../src/load/compress.js';
import { EarlySpools } from '../src/load/early-spool.js';
import { bytesReadByThisProcess, packed } from './helpers/tar.js';
import { tempDir } from './helpers/tools.js';

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

/** Starts an early pass beside a scan of `file`, as a load of that one archive does. */
async function startedBeside(file: string) {
  const spoolDir = await tempDir('airlift-early-');
  const early = new EarlySpools(spoolDir, gzip1, true);
  const archive = await readArchive({ path: file, file }, undefined, early.scanner(scanArchive));
  return { spoolDir, early, archive, pass: early.take(file)! };
}

async function finished(pass: NonNullable<ReturnType<EarlySpools['take']>>, jobs: SpoolJob[]) {
  const blobs = new Map<string, SpooledBlob>();
  let read = 0;
  const left = await pass.finish(
    jobs,
    async (entry, blob) => void blobs.set(entry, blob),
    (n) => (read += n),
  );
  return { left, blobs, read };
}

describe.each([
  ['a docker save bundle with uncompressed layers', 'k3s-airgap-images-amd64.tar.gz'],
  ['a ctr export with compressed blobs', 'ctr-airgap-images-amd64.tar'],
])('%s', (_name, name) => {
  test('every layer is spooled by the pass started beside the scan, checked and compressed as the plan asks', async () => {
    const { spoolDir, archive, pass } = await startedBeside(fixture(name));
    const layers = layersOf(archive);
    const { left, blobs, read } = await finished(pass, jobsFor(spoolDir, layers));
    expect(left).toEqual([]);
    for (const layer of layers) {
      const blob = blobs.get(layer.entry)!;
      expect(blob.inputDigest).toBe(layerKey(layer));
      expect(blob.compression).toEqual(layer.kind === 'tar' ? gzip1 : undefined);
      if (layer.kind === 'blob') expect(blob.digest).toBe(layer.descriptor.digest);
    }
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThanOrEqual(archive.fileSize);
  });
});

test('what the pass passed before the plan, unspooled or spooled otherwise than asked, is left for a second pass; unwanted blobs are deleted', async () => {
  const { spoolDir, archive, pass } = await startedBeside(fixture('k3s-airgap-images-amd64.tar.gz'));
  // Long enough for this small archive to be read to its end before the plan arrives.
  await sleep(1500);
  const [asked, copied] = layersOf(archive) as [SourceLayer, SourceLayer];
  const config = `${digestHex(archive.images[0]!.config.digest)}.json`;
  const jobs = [
    ...jobsFor(spoolDir, [asked]),
    { entry: copied.entry, file: join(spoolDir, 'copy') },
    { entry: config, file: join(spoolDir, 'config') },
  ];
  const { left, blobs } = await finished(pass, jobs);
  expect(left.map((job) => job.entry).sort()).toEqual([copied.entry, config].sort());
  expect([...blobs.keys()]).toEqual([asked.entry]);
  // The speculative files of every other entry are gone; the one handed over is the caller's.
  expect(await readdir(spoolDir)).toEqual([blobs.get(asked.entry)!.file.split('/').pop()]);
});

test('a pass nobody takes is stopped at once, not left to read its archive through', async () => {
  const dir = await tempDir('airlift-early-');
  const file = join(dir, 'big.tar.gz');
  // Stored (gzip level 0): reading the archive through means reading all of its 32 MiB.
  await writeFile(file, gzipSync(await packed([{ name: 'big/layer.tar', body: randomBytes(32 * MiB) }]), { level: 0 }));
  const early = new EarlySpools(dir, gzip1, true);
  const before = await bytesReadByThisProcess();
  // A scan that returns at once: what is read is the pass's.
  await early.scanner(async () => ({}) as ArchiveContents)({ path: file, file });
  await early.stop();
  expect(early.take(file)).toBeUndefined();
  expect((await bytesReadByThisProcess()) - before).toBeLessThan(8 * MiB);
});

test('no pass is started when the scans keep every core busy', async () => {
  const early = new EarlySpools(await tempDir('airlift-early-'), gzip1, false);
  const file = fixture('k3s-airgap-images-amd64.tar.gz');
  await early.scanner(scanArchive)({ path: file, file });
  expect(early.take(file)).toBeUndefined();
  expect(EarlySpools.worthIt({ archives: 1_000_000, filtered: false })).toBe(false);
  expect(EarlySpools.worthIt({ archives: 1, filtered: true })).toBe(false);
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
