/**
 * Frees dead stream buffers early. Every file read and zlib output chunk is a new Buffer whose
 * JS object is small, so V8's young generation seldom fills: left alone, the buffers' memory is
 * freed only once external memory passes V8's limit, and every thread that streams holds tens
 * of MB of them. Collecting the young generation every few MB streamed frees them while they
 * are few (measured on the three-archive benchmark: peak RSS ~13 MB lower, no slower).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The flag is process-wide; `gc` then exists in every context created after it, in workers too.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'minor' }) => void;

/**
 * Bytes streamed between collections. Measured on the ×2 benchmark load (peak RSS): 4 MB
 * 225–232 MB; 1 MB ~300 MB, as buffers still in flight (a few MB per worker) survive two
 * collections and move to the old generation, freed only by a major GC; 8 MB ~241 MB and
 * 16 MB ~300 MB, as the main thread's young generation grows to 16–32 MB between collections.
 */
export const collectionInterval = 4 * 1024 * 1024;
let streamed = 0;

/**
 * Buffers still in flight at two minor collections (blocks queued for a busy thread pool) move to
 * the old generation, which V8 collects only when external memory passes its limit, so dead ones
 * piled up there for the length of a run: a load of the ×2 bundles grew from ~190 to ~240 MB.
 * A full collection of the streaming thread's small heap every 2 s keeps it flat at ~200 MB.
 */
const fullCollectionIntervalMs = 2000;
let lastFull = Date.now();

/** Counts bytes this thread streamed, and collects its young generation every `collectionInterval` (all of its heap every 2 s). */
export function streamedBytes(bytes: number): void {
  streamed += bytes;
  if (streamed < collectionInterval) return;
  streamed = 0;
  const now = Date.now();
  if (now - lastFull < fullCollectionIntervalMs) return gc({ type: 'minor' });
  lastFull = now;
  gc(); // full: `{ type: 'major' }` frees no old ArrayBuffer here (Node 20; see the test)
}
