/**
 * The digest of a spool pass's output, hashed on another thread through a shared ring: the
 * same as hashing the bytes directly, however they are chunked, while the ring's few slots
 * are handed back late.
 */
import { expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newRing, RingHasher, RingSlots, RingWriter } from '../src/load/shared-hash.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Writes `chunks` through a RingWriter whose slots the "main thread" hashes and releases a tick later. */
async function throughRing(slots: RingSlots, hasher: RingHasher, chunks: Buffer[]): Promise<{ passed: Buffer; digest: string }> {
  const writer = new RingWriter(slots, (filled) => {
    hasher.update(filled);
    setImmediate(() => slots.release(filled.slot));
  });
  const passed: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      passed.push(chunk);
      done();
    },
  });
  await pipeline(Readable.from(chunks), writer, sink);
  expect(writer.bytes).toBe(chunks.reduce((sum, c) => sum + c.length, 0));
  return { passed: Buffer.concat(passed), digest: hasher.digest() };
}

test('blobs of any size and chunking get the digest of their bytes, passed through unchanged, one after the other', async () => {
  const ring = newRing();
  const slots = new RingSlots(ring);
  const hasher = new RingHasher(ring);
  const data = randomBytes(9 * MiB + 12345);
  const chunkings = [
    [data],
    [data.subarray(0, MiB), data.subarray(MiB, 5 * MiB), data.subarray(5 * MiB)],
    Array.from({ length: Math.ceil(data.length / 70000) }, (_, i) => data.subarray(i * 70000, (i + 1) * 70000)),
    [data.subarray(0, 4 * MiB)],
    [Buffer.alloc(0)],
    [],
  ];
  for (const chunks of chunkings) {
    const whole = Buffer.concat(chunks);
    const { passed, digest } = await throughRing(slots, hasher, chunks);
    expect(passed.equals(whole)).toBe(true);
    expect(digest).toBe(sha256(whole));
  }
});
