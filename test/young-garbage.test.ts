/**
 * Dead stream buffers are freed once a thread has streamed `collectionInterval` bytes, not
 * when V8's external-memory limit is reached; those that lived long enough to reach the old
 * generation, by the full collection that comes every 2 s.
 */
import { expect, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectionInterval, streamedBytes } from '../src/load/young-garbage.js';

const MiB = 1024 * 1024;
const arrayBuffers = () => process.memoryUsage().arrayBuffers;

/** Allocates and drops `count` 256 KiB buffers, as a stream's reads do. */
function dropBuffers(count: number): void {
  for (let i = 0; i < count; i++) Buffer.allocUnsafeSlow(256 * 1024).fill(i);
}

/** Waits for V8 to release collected buffers' memory, on a background thread (left alone, without allocations, nothing would free them at all). */
async function released(before: number): Promise<number> {
  for (let waited = 0; arrayBuffers() - before >= 1 * MiB && waited < 2000; waited += 20) await sleep(20);
  return arrayBuffers() - before;
}

test('streaming a collection interval frees the buffers dropped before it', async () => {
  streamedBytes(collectionInterval); // start counting from a collection
  const before = arrayBuffers();
  dropBuffers(32);
  streamedBytes(collectionInterval - 1);
  expect(arrayBuffers() - before).toBeGreaterThanOrEqual(7 * MiB); // not yet: fewer bytes than the interval
  streamedBytes(1);
  expect(await released(before)).toBeLessThan(1 * MiB);
});

/** Keeps the thread busy, as a streaming worker is: an idle one gets V8's own full collections. */
function busyFor(ms: number): void {
  for (const end = Date.now() + ms; Date.now() < end;);
}

test('buffers that outlived minor collections (in flight in a busy pool) are freed by the full collection every 2 s', async () => {
  busyFor(2000);
  streamedBytes(collectionInterval); // a full collection: the next ones are minor for 2 s
  const before = arrayBuffers();
  let inFlight = Array.from({ length: 32 }, (_, i) => Buffer.allocUnsafeSlow(256 * 1024).fill(i));
  // Survivors of minor collections move to the old generation (after two, or more just after a full one).
  for (let i = 0; i < 4; i++) streamedBytes(collectionInterval);
  expect(inFlight).toHaveLength(32);
  inFlight = [];
  busyFor(2000);
  streamedBytes(collectionInterval);
  expect(await released(before)).toBeLessThan(1 * MiB);
});
