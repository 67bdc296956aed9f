/**
 * Passes over archives in worker threads. Inflating, hashing and compressing — the per-byte
 * work — run there, so that the main thread is left with planning and uploads and archives
 * read at once use every core. One piece comes back: the digest of what a spool pass writes
 * is computed here (shared-hash.ts), so that an archive read alone still hashes on two cores.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ArchiveError } from '../archive/errors.js';
import type { ArchiveSource, Compression } from '../archive/open.js';
import type { Digest } from '../oci/digest.js';
import type { ArchiveContents, Scanner } from '../archive/scan.js';
import type { CompressionChoice, SpooledBlob, SpoolResult } from './compress.js';
import { limiter } from './limit.js';
import { newRing, RingHasher, type SlotFilled } from './shared-hash.js';
import { streamedBytes } from './young-garbage.js';

export interface SpoolJob {
  entry: string;
  /** Spool file to write. */
  file: string;
  /** How to compress the entry; undefined copies it unchanged (an original blob). */
  compression?: CompressionChoice;
}

export interface ScanRequest {
  kind: 'scan';
  source: ArchiveSource;
  /** Also spool what may be a layer, as `Speculation` says. */
  speculation?: Speculation;
}

/**
 * What a scan that spools (early-spool.ts) spools: every file but the JSON documents,
 * compressed unless it already is.
 */
export interface Speculation {
  /** Spool files are this and a number. */
  filePrefix: string;
  compression: CompressionChoice;
  /**
   * Layers compressed before on this machine (the blob-info cache): likely in the registry
   * already, so not worth compressing again on a guess.
   */
  known: Digest[];
  /** Where the worker puts what it writes compressed, for the main thread to hash. */
  ring: SharedArrayBuffer;
}

export interface SpoolRequest {
  kind: 'spool';
  source: ArchiveSource;
  compression: Compression;
  jobs: SpoolJob[];
  /** Where the worker puts what it writes compressed, for the main thread to hash. */
  ring: SharedArrayBuffer;
}

export type ReadRequest = ScanRequest | SpoolRequest;

/** Main thread to worker: carry on after a spooled blob, a slot is hashed, or the answer to a claim. */
export type ToWorker = 'go on' | { type: 'hashed'; slot: number } | { type: 'claim'; granted: boolean };

export type WorkerMessage =
  | { type: 'read'; bytes: number }
  | { type: 'scanned'; contents: ArchiveContents }
  | SlotFilled
  /** Without a digest, the blob's is that of the slots hashed since the last one. */
  | { type: 'spooled'; entry: string; blob: SpoolResult }
  /** May the scan spool this entry, or is another archive's scan spooling the same one? */
  | { type: 'claim'; entry: string; size: number }
  | { type: 'done' }
  | { type: 'failed'; archive?: string; reason: string };

const cores = availableParallelism();
/**
 * Passes running at once, each in its own worker. Scans: up to four at once, so that a kit's
 * three per-arch archives are scanned together and finish together (the plan waits for the
 * last), also when they spool on their way. A spool pass keeps nearly two cores busy (its
 * thread hashing what it reads, the main thread what it writes, the pool inflating and
 * deflating) and holds tens of MB of buffers: two at once on two cores, so that one waiting on
 * the registry does not leave the cores idle, and one per two cores beyond.
 */
const scanSlots = limiter(4);
const spoolSlots = limiter(Math.min(4, Math.max(2, Math.floor(cores / 2))));

/**
 * A worker's JS objects are few and short-lived; a small young generation is collected more
 * often, which also frees the buffers those objects hold sooner (measured: ~15 MB less peak
 * RSS per worker, and less GC work).
 */
const resourceLimits = { maxYoungGenerationSizeMb: 4 };

/** `scanArchive` in a worker thread. */
export const scanInWorker: Scanner = (source, onRawBytes = () => {}) =>
  runWorker<ArchiveContents>({ kind: 'scan', source }, onRawBytes, (message, finish) => {
    if (message.type === 'scanned') finish(withBuffers(message.contents));
  });

type OnSpooled = (entry: string, blob: SpooledBlob) => Promise<void>;

/**
 * `scanArchive` in a worker thread that also spools what may be a layer, handing each blob to
 * `onSpooled` as it is written. It spools only the entries `claim` grants it.
 */
export function scanAndSpoolInWorker(
  source: ArchiveSource,
  onRawBytes: (n: number) => void,
  speculation: Omit<Speculation, 'ring'>,
  { claim, onSpooled }: { claim: (entry: string, size: number) => boolean; onSpooled: OnSpooled },
): Promise<ArchiveContents> {
  const ring = newRing();
  const spooled = spooledBlobs(ring, onSpooled);
  return runWorker<ArchiveContents>(
    { kind: 'scan', source, speculation: { ...speculation, ring } },
    onRawBytes,
    (message, finish, fail, worker) => {
      if (message.type === 'scanned') finish(withBuffers(message.contents));
      else if (message.type === 'claim')
        worker.postMessage({ type: 'claim', granted: claim(message.entry, message.size) } satisfies ToWorker);
      else spooled(message, fail, worker);
    },
  );
}

/**
 * Spools the jobs' entries from one archive, in archive order. `onSpooled` runs for each
 * before the worker reads on, so a slow consumer holds the reading back.
 */
export function spoolInWorker(
  request: Omit<SpoolRequest, 'kind' | 'ring'>,
  onSpooled: OnSpooled,
  onRawBytes: (n: number) => void,
): Promise<void> {
  const ring = newRing();
  const spooled = spooledBlobs(ring, onSpooled);
  // What a spool pass reads, this thread hashes and uploads soon after: its buffers are this thread's to free.
  const onRead = (n: number) => {
    streamedBytes(n);
    onRawBytes(n);
  };
  return runWorker<void>({ kind: 'spool', ...request, ring }, onRead, (message, finish, fail, worker) => {
    if (message.type === 'done') finish();
    else spooled(message, fail, worker);
  });
}

/** The main thread's side of spooling: hashes the ring's slots as they fill, and completes each blob with their digest. */
function spooledBlobs(ring: SharedArrayBuffer, onSpooled: OnSpooled) {
  const hasher = new RingHasher(ring);
  const send = (worker: Worker, message: ToWorker) => worker.postMessage(message);
  return (message: WorkerMessage, fail: (err: Error) => void, worker: Worker) => {
    if (message.type === 'hash') {
      hasher.update(message);
      send(worker, { type: 'hashed', slot: message.slot });
    }
    if (message.type === 'spooled') {
      const blob = { ...message.blob, digest: message.blob.digest ?? hasher.digest() };
      void onSpooled(message.entry, blob).then(() => send(worker, 'go on'), fail);
    }
  };
}

function runWorker<T>(
  request: ReadRequest,
  onRawBytes: (n: number) => void,
  onMessage: (message: WorkerMessage, finish: (result: T) => void, fail: (err: Error) => void, worker: Worker) => void,
): Promise<T> {
  return (request.kind === 'scan' ? scanSlots : spoolSlots)(
    () =>
      new Promise<T>((resolve, reject) => {
        const worker = new Worker(workerScript, { workerData: request, resourceLimits });
        let settled = false;
        const finish = (result: T) => {
          settled = true;
          resolve(result);
        };
        const fail = (err: Error) => {
          if (settled) return;
          settled = true;
          void worker.terminate();
          reject(err);
        };
        worker.on('message', (message: WorkerMessage) => {
          if (message.type === 'read') return onRawBytes(message.bytes);
          if (message.type === 'failed') {
            return fail(message.archive === undefined ? new Error(message.reason) : new ArchiveError(message.archive, message.reason));
          }
          onMessage(message, finish, fail, worker);
        });
        worker.on('error', fail);
        worker.on('exit', (code) => fail(new Error(`the worker reading ${request.source.path} stopped (exit code ${code})`)));
      }),
  );
}

/** Buffers arrive from a worker as plain Uint8Arrays. */
function withBuffers(contents: ArchiveContents): ArchiveContents {
  const buffers = (map: Map<string, Uint8Array>) =>
    new Map([...map].map(([name, bytes]) => [name, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]));
  return { ...contents, documents: buffers(contents.documents), heads: buffers(contents.heads) };
}

/**
 * The worker's compiled script. Run from source (tests through ts-jest), this module is a
 * `.ts` file with no `.js` beside it: the build's copy under dist/ is used then.
 */
const workerScript = ((): URL => {
  const beside = new URL('./archive-worker.js', import.meta.url);
  return existsSync(beside) ? beside : new URL('../../dist/src/load/archive-worker.js', import.meta.url);
})();
