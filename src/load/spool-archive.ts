/**
 * The second pass over an archive, in a worker thread: the worker inflates the archive and
 * hashes, compresses and writes the wanted layers to spool files — the per-byte work — so
 * that the main thread is left with uploads, and archives read at once use every core.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Compression, ArchiveSource } from '../archive/open.js';
import type { CompressionChoice, SpooledBlob } from './compress.js';

export interface SpoolJob {
  entry: string;
  /** Spool file to write. */
  file: string;
  /** How to compress the entry; undefined copies it unchanged (an original blob). */
  compression?: CompressionChoice;
}

export interface SpoolRequest {
  source: ArchiveSource;
  compression: Compression;
  jobs: SpoolJob[];
}

export type WorkerMessage =
  | { type: 'read'; bytes: number }
  | { type: 'spooled'; entry: string; blob: SpooledBlob }
  | { type: 'done' }
  | { type: 'failed'; message: string };

/**
 * Spools `request.jobs` from one archive, in archive order. `onSpooled` runs for each entry
 * before the worker reads on, so a slow consumer holds the reading back.
 */
export function spoolArchive(
  request: SpoolRequest,
  onSpooled: (entry: string, blob: SpooledBlob) => Promise<void>,
  onRawBytes: (n: number) => void,
): Promise<void> {
  const worker = new Worker(workerScript, { workerData: request });
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      void worker.terminate();
      reject(err);
    };
    worker.on('message', (message: WorkerMessage) => {
      switch (message.type) {
        case 'read':
          return onRawBytes(message.bytes);
        case 'spooled':
          return void onSpooled(message.entry, message.blob).then(() => worker.postMessage('go on'), fail);
        case 'done':
          return resolve();
        case 'failed':
          return fail(new Error(message.message));
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the worker reading ${request.source.path} stopped (exit code ${code})`)));
  });
}

/**
 * The worker's compiled script. Run from source (tests through ts-jest), this module is a
 * `.ts` file beside which no `.js` exists: the build's copy under dist/ is used then.
 */
const workerScript = ((): URL => {
  const beside = new URL('./spool-worker.js', import.meta.url);
  return existsSync(beside) ? beside : new URL('../../dist/src/load/spool-worker.js', import.meta.url);
})();
