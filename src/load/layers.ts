/**
 * Publishing the run's layers: each distinct layer is compressed once, checked against its
 * diff_id, uploaded once and mounted everywhere else. Layers the blob-info cache already
 * knows are looked up in the registry first and never read when the registry has them.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readEntries } from '../archive/entries.js';
import type { ScannedArchive } from '../archive/model.js';
import { type Digest, digestHex, shortDigest } from '../oci/digest.js';
import type { BlobInfoCache, CompressedBlob } from './blob-cache.js';
import { type BlobPlacement, mountKnownBlob, placeBlob } from './blobs.js';
import { compressToSpool } from './compress.js';
import { limiter } from './limit.js';
import type { LayerPlan } from './plan.js';

export interface LayerContext extends BlobPlacement {
  cache: BlobInfoCache;
  /** Blobs the registry is known to hold for some layers (diffID → blob), learned from its manifests. */
  known?: Map<Digest, CompressedBlob>;
  compressionLevel: number;
  concurrency: number;
  spoolDir: string;
  /** Archive bytes read by this pass, for progress. */
  onRawBytes: (n: number) => void;
}

export type LayerOutcome = { blob: CompressedBlob } | { error: string };

export const compressionKey = (level: number): string => `gzip-${level}`;

export async function publishLayers(
  ctx: LayerContext,
  archives: ScannedArchive[],
  layers: Map<Digest, LayerPlan>,
): Promise<Map<Digest, LayerOutcome>> {
  const outcomes = new Map<Digest, LayerOutcome>();
  const toRead: LayerPlan[] = [];
  const lookup = limiter(ctx.concurrency);
  await Promise.all(
    [...layers.values()].map((layer) =>
      lookup(async () => {
        const known = ctx.known?.get(layer.diffID) ?? ctx.cache.get(layer.diffID, compressionKey(ctx.compressionLevel));
        const missing = known && (await mountKnownBlob(ctx, { kind: 'layer', ...known }, layer.repositories));
        if (known && missing!.length === 0) outcomes.set(layer.diffID, { blob: known });
        else toRead.push(missing && missing.length < layer.repositories.length ? { ...layer, repositories: missing } : layer);
      }),
    ),
  );
  const uploads = limiter(ctx.concurrency);
  const pending: Promise<void>[] = [];
  await Promise.all(
    archives.map(async (archive) => {
      const byEntry = new Map(toRead.filter((l) => l.archive === archive.path).map((l) => [l.entry, l]));
      if (byEntry.size === 0) return;
      try {
        await readEntries(
          archive.path,
          archive.compression,
          new Set(byEntry.keys()),
          async (entry, body) => {
            const layer = byEntry.get(entry)!;
            const spool = join(ctx.spoolDir, digestHex(layer.diffID));
            const blob = await compressToSpool(body, spool, ctx.compressionLevel);
            if (blob.diffID !== layer.diffID) {
              outcomes.set(layer.diffID, { error: corruptLayer(archive.path, entry, layer.diffID, blob.diffID) });
              await rm(spool, { force: true });
              return;
            }
            // Uploads go on while the archive is read further; the limiter bounds spooled files.
            pending.push(
              uploads(async () => {
                try {
                  const compressed = { digest: blob.digest, size: blob.size };
                  const read = (start: number, end: number) => createReadStream(spool, { start, end: end - 1 });
                  await placeBlob(ctx, { kind: 'layer', ...compressed, read }, layer.repositories);
                  ctx.cache.set(layer.diffID, compressionKey(ctx.compressionLevel), compressed);
                  outcomes.set(layer.diffID, { blob: compressed });
                } catch (err) {
                  outcomes.set(layer.diffID, { error: (err as Error).message });
                } finally {
                  await rm(spool, { force: true });
                }
              }),
            );
          },
          ctx.onRawBytes,
        );
      } catch (err) {
        for (const layer of byEntry.values()) {
          if (!outcomes.has(layer.diffID)) outcomes.set(layer.diffID, { error: (err as Error).message });
        }
      }
    }),
  );
  await Promise.all(pending);
  return outcomes;
}

const corruptLayer = (archive: string, entry: string, expected: Digest, actual: Digest): string =>
  `${archive}: layer ${entry} does not match its config's diff_id (expected ${shortDigest(expected)}, read ${shortDigest(actual)}): the archive is corrupt; re-copy or re-download it`;
