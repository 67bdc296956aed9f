/**
 * Worker thread body for spool-archive.ts: reads one archive and spools the wanted entries,
 * posting each result and waiting for the main thread's go-ahead before reading on.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readEntries } from '../archive/entries.js';
import { spoolBlob } from './compress.js';
import type { SpoolRequest, WorkerMessage } from './spool-archive.js';

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);
const goAhead = () => new Promise((resolve) => port.once('message', resolve));

const { source, compression, jobs } = workerData as SpoolRequest;
const byEntry = new Map(jobs.map((job) => [job.entry, job]));
try {
  await readEntries(
    source,
    compression,
    new Set(byEntry.keys()),
    async (entry, body) => {
      const job = byEntry.get(entry)!;
      post({ type: 'spooled', entry, blob: await spoolBlob(body, job.file, job.compression) });
      await goAhead();
    },
    (bytes) => post({ type: 'read', bytes }),
  );
  post({ type: 'done' });
} catch (err) {
  post({ type: 'failed', message: (err as Error).message });
}
