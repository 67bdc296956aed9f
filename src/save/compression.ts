/**
 * Compressing bundles and decompressing layers (gzip by zlib, zstd by zstd-napi). zstd bundles
 * are written as k3s writes its own (`zstd -16 --long=25`: a 32 MiB window, which every zstd
 * decompressor accepts without being told).
 */
import { availableParallelism } from 'node:os';
import type { Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { CompressStream, DecompressStream } from 'zstd-napi';
import { zlibChunkSize, zstdWindowLogMax } from '../archive/open.js';

export type BundleCompression = 'gzip' | 'zstd' | 'none';

export const bundleSuffix: Record<BundleCompression, string> = { gzip: '.tar.gz', zstd: '.tar.zst', none: '.tar' };

/**
 * `compressedContent`: the bundle holds compressed blobs, from which more effort gains almost
 * nothing, so it gets a fast level; uncompressed layers (--legacy) get the usual effort.
 */
export function bundleCompressor(compression: BundleCompression, compressedContent: boolean): Transform | undefined {
  switch (compression) {
    case 'gzip':
      return createGzip({ level: compressedContent ? 1 : 6, chunkSize: zlibChunkSize });
    case 'zstd':
      return new CompressStream({
        compressionLevel: compressedContent ? 3 : 16,
        enableLongDistanceMatching: true,
        windowLog: 25,
        nbWorkers: availableParallelism(),
      });
    case 'none':
      return undefined;
  }
}

/** A decompressor for a layer of this media type, or undefined for an uncompressed one. */
export function layerDecompressor(mediaType: string): Transform | undefined {
  if (/zstd/.test(mediaType)) return new DecompressStream({ windowLogMax: zstdWindowLogMax });
  if (/gzip/.test(mediaType)) return createGunzip({ chunkSize: zlibChunkSize });
  return undefined;
}
