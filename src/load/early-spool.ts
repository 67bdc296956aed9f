/**
 * Spool passes that start beside the scan. An archive read alone is scanned on about one core
 * (inflating is sequential) while the other cores wait for the plan; a spool pass started at
 * the same time uses them, spooling whatever may be a layer until the plan says what is
 * wanted (one 627 MB gzip archive, in one process: scan then spool pass 8.5 s, side by side
 * 7.2 s). Only while archives are fewer than cores: otherwise the scans keep every core busy,
 * and each pass holds tens of MB of buffers.
 */
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type ArchiveSource, type Compression, detectCompression } from '../archive/open.js';
import type { Scanner } from '../archive/scan.js';
import { type Speculation, type SpoolJob, spoolInWorker } from './archive-reader.js';
import type { CompressionChoice, SpooledBlob } from './compress.js';

type OnSpooled = (entry: string, blob: SpooledBlob) => Promise<void>;

export class EarlySpools {
  private readonly passes = new Map<string, EarlyPass>();
  /** Passes started so far, which name their spool files apart. */
  private started = 0;

  /** `enabled`: see `worthIt`. */
  constructor(
    private readonly spoolDir: string,
    private readonly compression: CompressionChoice,
    private readonly enabled: boolean,
  ) {}

  /**
   * Whether a load leaves cores idle during its scans (fewer archives than cores) and will want
   * most of what it reads: a filter usually leaves most of an archive unread, and spooling it
   * early would only slow its scan (one small image of one archive: ~1 s more).
   */
  static worthIt({ archives, filtered }: { archives: number; filtered: boolean }): boolean {
    return !filtered && archives < availableParallelism();
  }

  /** `scan`, with a spool pass started beside each scan. */
  scanner(scan: Scanner): Scanner {
    return async (source, onRawBytes) => {
      const compression = this.enabled ? await detectCompression(source).catch(() => undefined) : undefined;
      if (compression) {
        const filePrefix = join(this.spoolDir, `early-${this.started++}-`);
        this.passes.set(source.path, new EarlyPass(source, compression, { filePrefix, compression: this.compression }));
      }
      return scan(source, onRawBytes);
    };
  }

  /** The pass started for this archive, if any: it is then the caller's to finish. */
  take(path: string): EarlyPass | undefined {
    const pass = this.passes.get(path);
    this.passes.delete(path);
    return pass;
  }

  /** Stops the passes no one took: archives the plan reads nothing from, or a run that stopped early. */
  async stop(): Promise<void> {
    await Promise.all([...this.passes.values()].map((pass) => pass.stop()));
    this.passes.clear();
  }
}

class EarlyPass {
  private readonly spooledEarly: Array<[string, SpooledBlob]> = [];
  private onSpooled: OnSpooled | undefined;
  private bytesRead = 0;
  private onRead: (n: number) => void = (n) => (this.bytesRead += n);
  private setJobs: (jobs: SpoolJob[]) => void = () => {};
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(source: ArchiveSource, compression: Compression, speculation: Speculation) {
    const jobs = new Promise<SpoolJob[]>((resolve) => (this.setJobs = resolve));
    this.done = spoolInWorker(
      { source, compression, jobs, speculation, signal: this.abort.signal },
      // Before the plan, blobs wait for it, and the worker reads on.
      async (entry, blob) => (this.onSpooled ? this.onSpooled(entry, blob) : void this.spooledEarly.push([entry, blob])),
      (n) => this.onRead(n),
    );
    this.done.catch(() => {}); // awaited by `finish` or `stop`
  }

  /**
   * Gives the pass its jobs. Blobs spooled before, and from now on, go to `onSpooled` when they
   * are what a job asks for; others are deleted. Resolves, once the pass ends, to the jobs it
   * did not do: entries it passed before the plan without spooling them as the job asks.
   */
  async finish(jobs: SpoolJob[], onSpooled: OnSpooled, onRead: (n: number) => void): Promise<SpoolJob[]> {
    const byEntry = new Map(jobs.map((job) => [job.entry, job]));
    const handedOver = new Set<string>();
    this.onSpooled = async (entry, blob) => {
      const job = byEntry.get(entry);
      if (!job || !sameCompression(job.compression, blob.compression)) return rm(blob.file, { force: true });
      handedOver.add(entry);
      return onSpooled(entry, blob);
    };
    onRead(this.bytesRead);
    this.onRead = onRead;
    this.setJobs(jobs);
    for (const [entry, blob] of this.spooledEarly.splice(0)) await this.onSpooled(entry, blob);
    await this.done;
    return jobs.filter((job) => !handedOver.has(job.entry));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done.catch(() => {});
  }
}

const sameCompression = (a?: CompressionChoice, b?: CompressionChoice): boolean =>
  a === b || (a !== undefined && b !== undefined && a.algorithm === b.algorithm && a.level === b.level);
