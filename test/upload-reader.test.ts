/**
 * Spooled blobs read for upload through reused ring slots: every range reads back exactly,
 * even through a pipeline that holds chunks as long as a socket does, and reading takes no new
 * buffer per chunk.
 */
import { beforeAll, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readThroughRing, UploadRings } from '../src/load/upload-reader.js';
import { tempDir } from './helpers/tools.js';

const MiB = 1024 * 1024;
/** Under the test run's temp dir, removed after the run. */
let dir: string;

beforeAll(async () => {
  dir = await tempDir('airlift-upload-reader-');
});

function fileOf(data: Buffer): string {
  const file = join(dir, `blob-${data.length}`);
  writeFileSync(file, data);
  return file;
}

/**
 * Drains the stream as an upload does (a byte counter, then a socket), copying each chunk only
 * when its slow "write" completes, so a slot filled again too early would show in the result.
 */
async function drain(stream: Readable): Promise<Buffer> {
  const received: Buffer[] = [];
  const socket = new Writable({
    write(chunk: Buffer, _encoding, done) {
      setTimeout(() => {
        received.push(Buffer.from(chunk));
        done();
      }, 1);
    },
  });
  await pipeline(stream, new PassThrough(), socket);
  return Buffer.concat(received);
}

test('any range of a spooled blob reads back exactly, through rings that wrap around and are used again', async () => {
  const data = randomBytes(9 * MiB + 777);
  const file = fileOf(data);
  const rings = new UploadRings();
  const ranges: Array<[number, number]> = [
    [0, data.length],
    [1, 300_000],
    [3 * 256 * 1024 - 5, 20 * 256 * 1024 + 3],
    [data.length - 10, data.length],
    [data.length, data.length],
  ];
  for (const [start, end] of ranges) {
    const read = await rings.with((ring) => drain(readThroughRing(file, start, end, ring)));
    expect(read.equals(data.subarray(start, end))).toBe(true);
  }
});

test('uploads at once get rings of their own; a finished upload lends its ring to the next', async () => {
  const rings = new UploadRings();
  const seen: Buffer[] = [];
  let release!: () => void;
  const first = rings.with(async (ring) => {
    seen.push(ring);
    await new Promise<void>((resolve) => (release = resolve));
  });
  await rings.with(async (ring) => void seen.push(ring));
  expect(seen[0]).not.toBe(seen[1]);
  release();
  await first;
  await rings.with(async (ring) => void seen.push(ring));
  expect([seen[0], seen[1]]).toContain(seen[2]);
});

test('a file shorter than the range fails the read, naming the file', async () => {
  const file = fileOf(randomBytes(1000));
  await expect(new UploadRings().with((ring) => drain(readThroughRing(file, 0, 5000, ring)))).rejects.toThrow(
    `${file} ended at byte 1000, before 5000`,
  );
});

test('reading 64 MiB takes no new buffer per chunk: memory in ArrayBuffers stays at the ring', async () => {
  const data = randomBytes(64 * MiB);
  const file = fileOf(data);
  const rings = new UploadRings();
  let peak = 0;
  const before = process.memoryUsage().arrayBuffers;
  await rings.with(async (ring) => {
    const stream = readThroughRing(file, 0, data.length, ring);
    stream.on('data', () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)));
    await pipeline(stream, new Writable({ write: (_chunk, _encoding, done) => done() }));
  });
  // The ring is 4 MiB; a buffer per 256 KiB read would add up to tens of MB before V8 collects them.
  expect(peak - before).toBeLessThan(6 * MiB);
});
