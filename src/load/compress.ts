/**
 * Copies a layer into a spool file, gzip-compressing it when a level is given, and hashes
 * both sides on the way: the input digest checks the layer against its config's diff_id or
 * its blob name, the output digest names the blob. Spooling lets an upload be retried
 * without reading the archive again. zlib at a fixed level with a zeroed header is
 * deterministic, so the same layer gives the same digest on every run.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { zlibChunkSize } from '../archive/open.js';
import type { Digest } from '../oci/digest.js';

export interface SpooledBlob {
  /** sha256 of the input as read from the archive. */
  inputDigest: Digest;
  digest: Digest;
  size: number;
  file: string;
}

export async function spoolBlob(input: Readable, file: string, gzipLevel?: number): Promise<SpooledBlob> {
  const read = new HashingPassThrough();
  if (gzipLevel === undefined) {
    await pipeline(input, read, createWriteStream(file));
    return { inputDigest: read.digest(), digest: read.digest(), size: read.bytes, file };
  }
  const written = new HashingPassThrough();
  await pipeline(input, read, createGzip({ level: gzipLevel, chunkSize: zlibChunkSize }), written, createWriteStream(file));
  return { inputDigest: read.digest(), digest: written.digest(), size: written.bytes, file };
}

class HashingPassThrough extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  private result: Digest | undefined;

  digest(): Digest {
    this.result ??= `sha256:${this.hash.digest('hex')}`;
    return this.result;
  }
}
