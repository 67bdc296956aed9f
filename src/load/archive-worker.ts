/**
 * Worker thread body for archive-reader.ts: one pass over one archive — a scan for its
 * metadata (that may also spool what may be a layer, early-spool.ts), or a spool pass that
 * spools the entries asked for, waiting for the main thread's go-ahead after each. What a
 * pass spools compressed is hashed on the main thread (shared-hash.ts).
 */
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { readEntries } from '../archive/entries.js';
import { ArchiveError } from '../archive/errors.js';
import { compressionOf } from '../archive/open.js';
import { type OtherBody, scanArchive } from '../archive/scan.js';
import { spoolBlob, type SpoolResult } from './compress.js';
import type { ReadRequest, ScanRequest, SpoolJob, SpoolRequest, ToWorker, WorkerMessage } from './archive-reader.js';
import { RingSlots, RingWriter } from './shared-hash.js';
import { streamedBytes } from './young-garbage.js';

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);
const onRawBytes = (bytes: number) => {
  streamedBytes(bytes);
  post({ type: 'read', bytes });
};

/**
 * Spools entries into the files jobs name, sharing one ring with the main thread's hasher, and
 * reads on after each once the main thread says so. `close` stops listening to the main
 * thread, which lets the worker exit.
 */
function spooler(ring: SharedArrayBuffer) {
  const slots = new RingSlots(ring);
  let goOn = () => {};
  let answer = (_granted: boolean) => {};
  const onMessage = (message: ToWorker) => {
    if (message === 'go on') goOn();
    else if (message.type === 'claim') answer(message.granted);
    else slots.release(message.slot);
  };
  port.on('message', onMessage);
  return {
    close: () => port.off('message', onMessage),
    /** Whether this scan is the one to spool the entry: another archive's may hold the same layer, under the same name. */
    claim: (entry: string, size: number): Promise<boolean> => {
      const granted = new Promise<boolean>((resolve) => (answer = resolve));
      post({ type: 'claim', entry, size });
      return granted;
    },
    spool: async (job: SpoolJob, body: Readable): Promise<SpoolResult> => {
      // Each byte spooled leaves inflated, blocked and compressed buffers behind: collect by these bytes, not the fewer raw ones.
      body.on('data', (chunk: Buffer) => streamedBytes(chunk.length));
      const blob = await spoolBlob(body, job.file, job.compression, () => new RingWriter(slots, post));
      const goAhead = new Promise<void>((resolve) => (goOn = resolve));
      post({ type: 'spooled', entry: job.entry, blob });
      await goAhead;
      return blob;
    },
  };
}

async function scan({ source, speculation }: ScanRequest): Promise<void> {
  if (!speculation) return post({ type: 'scanned', contents: await scanArchive(source, onRawBytes) });
  const { claim, spool, close } = spooler(speculation.ring);
  let spooled = 0;
  /** A file system error of spooling (a full disk): the archive itself may be fine. */
  let spoolFailure: Error | undefined;
  // An archive whose layers were mostly compressed before (a re-copied bundle) is likely loaded
  // already: speculating on it would compress it all again for nothing.
  const known = new Set<string>(speculation.known);
  const layers = { known: 0, new: 0 };
  const onOtherBody: OtherBody = async ({ name: entry, size, head }, body) => {
    // OCI layouts name layers by their diff_id.
    if (layers.known > layers.new || known.has(`sha256:${basename(entry)}`)) return;
    const compression = compressionOf(head) ? undefined : speculation.compression;
    // A tar is at least its two closing 512-byte blocks: smaller files (a legacy save's VERSION) are no layers.
    if (compression && size < 1024) return;
    if (!(await claim(entry, size))) return;
    try {
      const blob = await spool({ entry, file: `${speculation.filePrefix}${spooled++}`, compression }, body);
      if (compression) layers[known.has(blob.inputDigest) ? 'known' : 'new']++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).syscall) spoolFailure = err as Error;
      throw err;
    }
  };
  try {
    post({ type: 'scanned', contents: await scanArchive(source, onRawBytes, onOtherBody) });
  } catch (err) {
    // Not an ArchiveError: the main thread then scans the archive without spooling.
    throw spoolFailure ? new Error(`cannot spool its layers while scanning it (${spoolFailure.message})`) : err;
  } finally {
    close();
  }
}

async function spoolEntries({ source, compression, jobs, ring }: SpoolRequest): Promise<void> {
  const planned = new Map(jobs.map((job) => [job.entry, job]));
  /** The planned entries the walk has yet to reach. */
  const unseen = new Set(planned.keys());
  const { spool, close } = spooler(ring);
  try {
    await readEntries(
      source,
      compression,
      async (entry, body) => {
        unseen.delete(entry);
        const job = planned.get(entry);
        if (job) await spool(job, body);
        // Nothing wanted is left: the rest of the archive need not be read.
        if (unseen.size === 0) return 'stop';
      },
      onRawBytes,
    );
  } finally {
    close();
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
  if (request.kind === 'scan') await scan(request);
  else await spoolEntries(request);
} catch (err) {
  post(
    err instanceof ArchiveError
      ? { type: 'failed', archive: err.archive, reason: err.reason }
      : { type: 'failed', reason: (err as Error).message },
  );
}
