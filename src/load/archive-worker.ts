/**
 * Worker thread body for archive-reader.ts: one pass over one archive — a scan for its
 * metadata, or a spool pass that spools the entries asked for, waiting for the main
 * thread's go-ahead after each. What a spool pass writes is hashed on the main thread
 * (shared-hash.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readEntries } from '../archive/entries.js';
import { ArchiveError } from '../archive/errors.js';
import { scanArchive } from '../archive/scan.js';
import { spoolBlob } from './compress.js';
import type { ReadRequest, SpoolRequest, ToSpoolWorker, WorkerMessage } from './archive-reader.js';
import { RingSlots, RingWriter } from './shared-hash.js';
import { streamedBytes } from './young-garbage.js';

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);
const onRawBytes = (bytes: number) => {
  streamedBytes(bytes);
  post({ type: 'read', bytes });
};

async function spoolEntries({ source, compression, jobs, ring }: SpoolRequest): Promise<void> {
  const byEntry = new Map(jobs.map((job) => [job.entry, job]));
  const slots = new RingSlots(ring);
  let goOn = () => {};
  const onMessage = (message: ToSpoolWorker) => (message === 'go on' ? goOn() : slots.release(message.slot));
  port.on('message', onMessage);
  try {
    await readEntries(
      source,
      compression,
      new Set(byEntry.keys()),
      async (entry, body) => {
        const job = byEntry.get(entry)!;
        post({ type: 'spooled', entry, blob: await spoolBlob(body, job.file, job.compression, () => new RingWriter(slots, post)) });
        await new Promise<void>((resolve) => (goOn = resolve));
      },
      onRawBytes,
    );
  } finally {
    port.off('message', onMessage);
  }
  post({ type: 'done' });
}

const request = workerData as ReadRequest;
try {
  if (request.kind === 'scan') post({ type: 'scanned', contents: await scanArchive(request.source, onRawBytes) });
  else await spoolEntries(request);
} catch (err) {
  post(
    err instanceof ArchiveError
      ? { type: 'failed', archive: err.archive, reason: err.reason }
      : { type: 'failed', reason: (err as Error).message },
  );
}
