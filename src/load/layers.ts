/**
 * Publishing the run's layers: each distinct layer is read once, checked against its
 * diff_id or blob digest, uploaded once and mounted everywhere else. Blobs whose digest is
 * known beforehand — original compressed blobs, and layers the blob-info cache remembers —
 * are looked up in the registry first and never read when the registry has them.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScannedArchive } from '../archive/model.js';
import { type Digest, digestHex, shortDigest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobInfoCache } from './blob-cache.js';
import { type BlobPlacement, mountKnownBlob, placeBlob } from './blobs.js';
import { type CompressionChoice, layerMediaType, type SpooledBlob } from './compress.js';
import { limiter } from './limit.js';
import type { LayerPlan } from './plan.js';
import { type SpoolJob, spoolInWorker } from './archive-reader.js';
import type { EarlySpools } from './early-spool.js';
import { readThroughRing, UploadRings } from './upload-reader.js';

export interface LayerContext extends BlobPlacement {
  cache: BlobInfoCache;
  /** Blobs the registry is known to hold for some layers (diffID → blob), learned from its manifests. */
  known?: Map<Digest, Descriptor>;
  compression: CompressionChoice;
  concurrency: number;
  spoolDir: string;
  /** Layers the scans spooled on their way, used here. */
  early?: EarlySpools;
  /** Archive bytes read by this pass so far, of `total`, for progress. */
  onRead: (bytes: number, total: number) => void;
}

export type LayerOutcome = { descriptor: Descriptor } | { error: string };

/** The run's layer outcomes, filled in as layers settle, so that a tag can go once its own layers have. */
export class LayerOutcomes {
  private readonly outcomes = new Map<Digest, LayerOutcome>();
  private readonly waiting = new Map<Digest, Array<() => void>>();

  get(key: Digest): LayerOutcome | undefined {
    return this.outcomes.get(key);
  }

  has(key: Digest): boolean {
    return this.outcomes.has(key);
  }

  set(key: Digest, outcome: LayerOutcome): void {
    this.outcomes.set(key, outcome);
    for (const resolve of this.waiting.get(key) ?? []) resolve();
    this.waiting.delete(key);
  }

  /** Resolves once every one of `keys` has an outcome. */
  async settled(keys: Digest[]): Promise<void> {
    for (const key of keys) {
      if (this.outcomes.has(key)) continue;
      if (!this.waiting.has(key)) this.waiting.set(key, []);
      await new Promise<void>((resolve) => this.waiting.get(key)!.push(resolve));
    }
  }
}

type Settle = (layer: LayerPlan, outcome: LayerOutcome) => void;

const uploadRings = new UploadRings();

export const cacheKey = ({ algorithm, level }: CompressionChoice): string => `${algorithm}-${level}`;

/** Publishes `layers`, settling each in `outcomes` as soon as it is in place (or has failed). */
export async function publishLayers(
  ctx: LayerContext,
  archives: ScannedArchive[],
  layers: Map<Digest, LayerPlan>,
  outcomes: LayerOutcomes,
): Promise<void> {
  const settle: Settle = (layer, outcome) => {
    outcomes.set(layer.key, outcome);
    ctx.emit({ type: 'layer', key: layer.key, size: layer.source.size, ok: 'descriptor' in outcome });
  };
  const toRead: LayerPlan[] = [];
  const lookup = limiter(ctx.concurrency);
  await Promise.all(
    [...layers.values()].map((layer) =>
      lookup(async () => {
        const known = knownDescriptor(layer, ctx.cache, ctx.compression, ctx.known);
        const missing = known && (await mountKnownBlob(ctx, { kind: 'layer', ...known }, layer.repositories));
        if (known && missing!.length === 0) settle(layer, { descriptor: known });
        else toRead.push(missing && missing.length < layer.repositories.length ? { ...layer, repositories: missing } : layer);
      }),
    ),
  );
  const uploads = limiter(ctx.concurrency);
  const pending = new Set<Promise<void>>();
  const byArchive = new Map<string, LayerPlan[]>();
  for (const planned of toRead) {
    const layer = ctx.early?.relocated(planned, archives) ?? planned;
    if (!byArchive.has(layer.archive)) byArchive.set(layer.archive, []);
    byArchive.get(layer.archive)!.push(layer);
  }
  const bytesToRead = new Map([...byArchive].map(([archive, list]) => [archive, list.reduce((sum, l) => sum + l.source.size, 0)]));
  // Largest first: archives wait for a worker, and the last one to start should be a short one.
  const reading = archives
    .filter((archive) => byArchive.has(archive.path))
    .sort((a, b) => bytesToRead.get(b.path)! - bytesToRead.get(a.path)!);
  const jobs = new Map(
    reading.map(({ path }): [string, SpoolJob[]] => [
      path,
      byArchive.get(path)!.map((layer) => ({
        entry: layer.source.entry,
        file: join(ctx.spoolDir, digestHex(layer.key)),
        compression: layer.source.kind === 'tar' ? ctx.compression : undefined,
      })),
    ]),
  );
  // What the scans spooled: used for the archives read here, deleted for the others.
  const early = new Map(reading.map(({ path }) => [path, ctx.early?.take(path)]));
  const discarded = ctx.early?.discard();
  /** The jobs a second pass over each archive has to do. */
  const left = new Map(reading.map(({ path }) => [path, early.get(path)?.unspooled(jobs.get(path)!) ?? jobs.get(path)!]));
  const total = reading.reduce((sum, archive) => sum + (left.get(archive.path)!.length ? archive.fileSize : 0), 0);
  let read = 0;
  await Promise.all(
    reading.map(async (archive) => {
      const byEntry = new Map(byArchive.get(archive.path)!.map((layer) => [layer.source.entry, layer]));
      const onSpooled = async (entry: string, blob: SpooledBlob) => {
        const layer = byEntry.get(entry)!;
        const checked = await checkSpooled(ctx, archive.path, layer, blob);
        if ('error' in checked) return settle(layer, checked);
        const upload = uploads(() => uploadSpooled(ctx, layer, checked.descriptor, blob.file, settle)).finally(() =>
          pending.delete(upload),
        );
        pending.add(upload);
        // Uploads go on while the archive is read further, but a slow registry holds the
        // reading back, so spooled layers waiting for upload stay few.
        if (pending.size >= 2 * ctx.concurrency) await Promise.race(pending);
      };
      const onRead = (n: number) => ctx.onRead((read += n), total);
      try {
        await early.get(archive.path)?.handOver(jobs.get(archive.path)!, onSpooled);
        const second = left.get(archive.path)!;
        if (second.length) await spoolInWorker({ source: archive, compression: archive.compression, jobs: second }, onSpooled, onRead);
      } catch (err) {
        for (const layer of byEntry.values()) {
          if (!outcomes.has(layer.key)) settle(layer, { error: (err as Error).message });
        }
      }
    }),
  );
  await Promise.all([...pending, discarded]);
}

/** The blob's descriptor when it is known without reading the layer (also what `--dry-run` looks up). */
export function knownDescriptor(
  layer: LayerPlan,
  cache: BlobInfoCache,
  compression: CompressionChoice,
  known?: Map<Digest, Descriptor>,
): Descriptor | undefined {
  const { source } = layer;
  if (source.kind === 'blob') return source.descriptor;
  const atTag = known?.get(source.diffID);
  if (atTag) return atTag;
  const mediaType = layerMediaType[compression.algorithm];
  if (compression.algorithm === 'none') return { mediaType, digest: source.diffID, size: source.size };
  const cached = cache.get(source.diffID, cacheKey(compression));
  return cached && { mediaType, ...cached };
}

/** Checks a spooled layer against what the archive's metadata says it is, and remembers its compressed digest. */
async function checkSpooled(
  ctx: LayerContext,
  archive: string,
  layer: LayerPlan,
  blob: SpooledBlob,
): Promise<{ descriptor: Descriptor } | { error: string }> {
  const { source } = layer;
  const expected = source.kind === 'tar' ? source.diffID : source.descriptor.digest;
  if (blob.inputDigest !== expected || (source.kind === 'blob' && blob.size !== source.descriptor.size)) {
    await rm(blob.file, { force: true });
    return { error: corruptLayer(archive, source.entry, expected, blob.inputDigest, source.kind) };
  }
  if (source.kind === 'blob') return { descriptor: source.descriptor };
  ctx.cache.set(source.diffID, cacheKey(ctx.compression), { digest: blob.digest, size: blob.size });
  return { descriptor: { mediaType: layerMediaType[ctx.compression.algorithm], digest: blob.digest, size: blob.size } };
}

async function uploadSpooled(ctx: LayerContext, layer: LayerPlan, descriptor: Descriptor, file: string, settle: Settle): Promise<void> {
  try {
    await uploadRings.with((ring) =>
      placeBlob(
        ctx,
        {
          kind: 'layer',
          digest: descriptor.digest,
          size: descriptor.size,
          read: (start, end) => readThroughRing(file, start, end, ring),
        },
        layer.repositories,
      ),
    );
    settle(layer, { descriptor });
  } catch (err) {
    settle(layer, { error: (err as Error).message });
  } finally {
    await rm(file, { force: true });
  }
}

function corruptLayer(archive: string, entry: string, expected: Digest, actual: Digest, kind: 'tar' | 'blob'): string {
  const against = kind === 'tar' ? "its config's diff_id" : 'its digest';
  return `${archive}: layer ${entry} does not match ${against} (expected ${shortDigest(expected)}, read ${shortDigest(actual)}): the archive is corrupt; re-copy or re-download it`;
}
