/**
 * Worker thread body for archive-reader.ts: one pass over one archive — a scan for its
 * metadata, or a spool pass that spools the entries asked for, waiting for the main
 * thread's go-ahead after each (a pass started before the plan spools what may be a layer
 * until the plan arrives). What a spool pass writes is hashed on the main thread
 * (shared-hash.ts).
 */
import type { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { readEntries } from '../archive/entries.js';
import { ArchiveError } from '../archive/errors.js';
import { compressionOf } from '../archive/open.js';
import { firstChunk, looksLikeJson, scanArchive } from '../archive/scan.js';
import { spoolBlob } from './compress.js';
import type { ReadRequest, SpoolJob, SpoolRequest, ToSpoolWorker, WorkerMessage } from './archive-reader.js';
import { RingSlots, RingWriter } from './shared-hash.js';
import { streamedBytes } from './young-garbage.js';

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);
const onRawBytes = (bytes: number) => {
  streamedBytes(bytes);
  post({ type: 'read', bytes });
};

async function spoolEntries({ source, compression, jobs, speculation, ring }: SpoolRequest): Promise<void> {
  const seen = new Set<string>();
  // Unknown while a pass that started beside the scan speculates; the plan then arrives as a message.
  let planned: Map<string, SpoolJob> | undefined;
  /** The planned entries the walk has yet to reach. */
  let unseen = new Set<string>();
  const plan = (list: SpoolJob[]) => {
    planned = new Map(list.map((job) => [job.entry, job]));
    unseen = new Set(list.map((job) => job.entry).filter((entry) => !seen.has(entry)));
  };
  if (jobs) plan(jobs);
  let speculated = 0;
  const slots = new RingSlots(ring);
  let goOn = () => {};
  const onMessage = (message: ToSpoolWorker) => {
    if (message === 'go on') goOn();
    else if (message.type === 'plan') plan(message.jobs);
    else slots.release(message.slot);
  };
  const spool = async (job: SpoolJob, body: Readable) => {
    post({ type: 'spooled', entry: job.entry, blob: await spoolBlob(body, job.file, job.compression, () => new RingWriter(slots, post)) });
    await new Promise<void>((resolve) => (goOn = resolve));
  };
  port.on('message', onMessage);
  try {
    await readEntries(
      source,
      compression,
      async (entry, body) => {
        seen.add(entry);
        unseen.delete(entry);
        if (!planned) {
          // Before the plan: what may be a layer — any file but a JSON document — compressed unless it already is.
          const head = await firstChunk(body);
          if (!head || looksLikeJson(head)) return;
          const { filePrefix, compression: choice } = speculation!;
          return spool({ entry, file: `${filePrefix}${speculated++}`, compression: compressionOf(head) ? undefined : choice }, body);
        }
        const job = planned.get(entry);
        if (job) await spool(job, body);
        // Nothing wanted is left: the rest of the archive need not be read.
        if (unseen.size === 0) return 'stop';
      },
      onRawBytes,
    );
  } finally {
    port.off('message', onMessage);
  }
  if (unseen.size) {
    throw new ArchiveError(
      source.path,
      `entries ${[...unseen].join(', ')} disappeared between passes: the file changed while airlift read it`,
    );
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
