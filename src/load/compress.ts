/**
 * Turns an uncompressed layer stream into a gzip blob in a spool file, hashing both sides
 * on the way: the uncompressed digest checks the layer against its config's diff_id, the
 * compressed one names the blob. Spooling lets an upload be retried or resumed without
 * reading the archive again. zlib at a fixed level with a zeroed header is deterministic,
 * so the same layer gives the same digest on every run.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { zlibChunkSize } from '../archive/open.js';
import type { Digest } from '../oci/digest.js';

export interface SpooledBlob {
  /** sha256 of the uncompressed input. */
  diffID: Digest;
  digest: Digest;
  size: number;
  file: string;
}

export async function compressToSpool(input: Readable, file: string, level: number): Promise<SpooledBlob> {
  const uncompressed = new HashingPassThrough();
  const compressed = new HashingPassThrough();
  await pipeline(input, uncompressed, createGzip({ level, chunkSize: zlibChunkSize }), compressed, createWriteStream(file));
  return { diffID: uncompressed.digest(), digest: compressed.digest(), size: compressed.bytes, file };
}

/** Passes bytes through, counting and hashing them. */
export class HashingPassThrough extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
