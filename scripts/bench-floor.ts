/**
 * The benchmark's compute floor: `node dist/scripts/bench-floor.js <bundle.tar.gz>...` streams
 * every bundle at once through gunzip → sha256 → gzip level 1 → sha256 and discards the output:
 * the decompress/hash/recompress work a loader of uncompressed-layer bundles cannot avoid,
 * with no tar parsing, no network and no registry. zlib runs on libuv's thread pool, so the
 * bundles share the cores as a loader's would.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

const CHUNK = 256 * 1024;

/** Passes chunks through while hashing and counting them. */
function hashing(): Transform & { bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return Object.assign(stream, { bytes: () => bytes });
}

async function floor(file: string): Promise<{ file: string; uncompressed: number; gzip1: number }> {
  const uncompressed = hashing();
  const recompressed = hashing();
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(
    createReadStream(file, { highWaterMark: CHUNK }),
    createGunzip({ chunkSize: CHUNK }),
    uncompressed,
    createGzip({ level: 1, chunkSize: CHUNK }),
    recompressed,
    discard,
  );
  return { file, uncompressed: uncompressed.bytes(), gzip1: recompressed.bytes() };
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: bench-floor <bundle.tar.gz>...');
  process.exitCode = 2;
} else {
  console.log(JSON.stringify(await Promise.all(files.map(floor))));
}
