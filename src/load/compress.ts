/**
 * Copies a layer into a spool file, compressing uncompressed tars on the way, and hashes
 * both sides: the input digest checks the layer against its config's diff_id or its blob
 * name, the output digest names the blob (hashed on another thread: shared-hash.ts).
 * Spooling lets an upload be retried without reading the archive again. Compression runs
 * at a fixed level with zeroed headers, so the same layer gives the same digest on every run
 * (and re-runs find it in the registry).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CompressStream } from 'zstd-napi';
import type { Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { BlockGzip } from './block-gzip.js';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export interface CompressionChoice {
  algorithm: LayerCompression;
  level: number;
}

export const defaultLevels: Record<LayerCompression, number> = { gzip: 1, zstd: 3, none: 0 };
export const levelRanges: Record<LayerCompression, [number, number]> = { gzip: [1, 9], zstd: [1, 19], none: [0, 0] };

export const layerMediaType: Record<LayerCompression, string> = {
  gzip: MediaType.ociLayerGzip,
  zstd: MediaType.ociLayerZstd,
  none: MediaType.ociLayer,
};

export interface SpooledBlob {
  /** sha256 of the input as read from the archive. */
  inputDigest: Digest;
  digest: Digest;
  size: number;
  file: string;
  /** How the input was compressed; undefined when it was copied as is. */
  compression?: CompressionChoice;
}

/**
 * What a spool pass knows of a blob it wrote. The digest of compressed output is computed
 * by whoever `written` hands the bytes to (shared-hash.ts), so it is here only for a copy,
 * whose output is its input.
 */
export type SpoolResult = Omit<SpooledBlob, 'digest'> & { digest?: Digest };

/** Spools `input` as is (`compression` undefined: an original blob) or compressed through a `written` stream, which counts the bytes. */
export async function spoolBlob(
  input: Readable,
  file: string,
  compression: CompressionChoice | undefined,
  written: () => Transform & { readonly bytes: number },
): Promise<SpoolResult> {
  const read = new HashingPassThrough();
  if (!compression || compression.algorithm === 'none') {
    await pipeline(input, read, createWriteStream(file));
    return { inputDigest: read.digest(), digest: read.digest(), size: read.bytes, file, compression };
  }
  const output = written();
  await pipeline(input, read, compressor(compression), output, createWriteStream(file));
  return { inputDigest: read.digest(), size: output.bytes, file, compression };
}

function compressor({ algorithm, level }: CompressionChoice): Transform {
  return algorithm === 'zstd' ? new CompressStream({ compressionLevel: level }) : new BlockGzip(level);
}

/** Passes bytes through, counting and hashing them. */
export class HashingPassThrough extends Transform {
  private readonly hash = createHash('sha256');
  private result: Digest | undefined;
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  digest(): Digest {
    this.result ??= `sha256:${this.hash.digest('hex')}`;
    return this.result;
  }
}
