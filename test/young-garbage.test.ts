/**
 * Dead stream buffers are freed once a thread has streamed `collectionInterval` bytes, not
 * when V8's external-memory limit is reached.
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

test('streaming a collection interval frees the buffers dropped before it', async () => {
  streamedBytes(collectionInterval); // start counting from a collection
  const before = arrayBuffers();
  dropBuffers(32);
  streamedBytes(collectionInterval - 1);
  expect(arrayBuffers() - before).toBeGreaterThanOrEqual(7 * MiB); // not yet: fewer bytes than the interval
  streamedBytes(1);
  // V8 releases the memory of collected buffers on a background thread: give it a moment (left
  // alone, without allocations, nothing would free them at all).
  for (let waited = 0; arrayBuffers() - before >= 1 * MiB && waited < 2000; waited += 20) await sleep(20);
  expect(arrayBuffers() - before).toBeLessThan(1 * MiB);
});
