/** Reading blobs out of a source registry: as a re-openable stream for uploads, or into a verified file. */
import { createWriteStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HashingPassThrough } from '../load/compress.js';
import { type Digest, shortDigest } from '../oci/digest.js';
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import type { BlobSource } from '../registry/upload.js';

/** The blob as an upload source: every read streams it (or the range asked for) from the source registry again. */
export function blobFrom(client: RegistryClient, repository: string, blob: { digest: Digest; size: number }): BlobSource {
  return {
    size: blob.size,
    read: (start, end) => {
      const out = new PassThrough();
      const range = start === 0 && end === blob.size ? undefined : { start, end };
      client
        .openBlob(repository, blob.digest, range)
        .then((body) => pipeline(body, out))
        .catch((err: Error) => out.destroy(err));
      return out;
    },
  };
}

/** The source served bytes that do not match the blob's digest, on every attempt. */
export class BlobIntegrityError extends Error {}

const downloadAttempts = 3;

/** Writes the blob to `file`, checking its digest and size; broken transfers are fetched again. */
export async function downloadBlob(
  client: RegistryClient,
  repository: string,
  blob: { digest: Digest; size: number },
  file: string,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const hash = new HashingPassThrough();
    try {
      const body = await client.openBlob(repository, blob.digest);
      await pipeline(body, hash, createWriteStream(file));
      const digest = hash.digest();
      if (digest === blob.digest && hash.bytes === blob.size) return;
      if (attempt >= downloadAttempts) {
        throw new BlobIntegrityError(
          `blob ${shortDigest(blob.digest)} of ${client.host}/${repository} arrived as ${hash.bytes} bytes with digest ${shortDigest(digest)} (expected ${blob.size} bytes): the registry serves corrupt data`,
        );
      }
    } catch (err) {
      // The client already retried what an HTTP answer said; what is left here is a broken transfer.
      if (err instanceof RegistryError || err instanceof BlobIntegrityError || attempt >= downloadAttempts) throw err;
    }
    await sleep(500 * attempt);
  }
}
