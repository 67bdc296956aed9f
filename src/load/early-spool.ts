/**
 * Layers spooled by the scan. Every producer writes its metadata at the end of the tar, so a
 * plan exists only once an archive has been read whole, and reading it again for the layers
 * the plan wants inflates every byte a second time. A scan that also spools what may be a
 * layer — compressed as a spool pass would — leaves nothing to read again when the plan wants
 * it all, as a full load into a new registry does. The price: an archive's layers wait on disk
 * until the plan, and what the plan does not want was compressed for nothing; so not for
 * filtered loads (which usually leave most of an archive unread), nor without the disk space.
 */
import { rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveError } from '../archive/errors.js';
import { layerKey, type ScannedArchive } from '../archive/model.js';
import { type ArchiveSource, detectCompression } from '../archive/open.js';
import type { Scanner } from '../archive/scan.js';
import type { Digest } from '../oci/digest.js';
import { formatBytes } from '../progress/format.js';
import { scanAndSpoolInWorker, type SpoolJob } from './archive-reader.js';
import type { CompressionChoice, SpooledBlob } from './compress.js';
import type { LayerPlan } from './plan.js';

/** What a compressed archive's layers may spool to, per byte of archive (see `spoolSizeBound`). */
const spoolRatio = { gzip: 2, zstd: 4 };
/** Free space left untouched, for the registry's or anyone else's files on the same disk. */
const keepFree = 1024 * 1024 * 1024;

export class EarlySpools {
  private readonly spooled = new Map<string, EarlyBlobs>();
  /**
   * The entries some scan spools, by size and name. A layer several per-arch archives hold (one
   * that is the same on every arch) has the same name in each: one scan compresses it, the
   * others skip it, and the plan reads it from the archive that spooled it (`relocated`).
   */
  private readonly claimed = new Set<string>();
  /** Scans started so far, which name their spool files apart. */
  private started = 0;

  private constructor(
    private readonly spoolDir: string,
    private readonly compression: CompressionChoice,
    /** Free bytes in `spoolDir` not yet promised to a scan; 0 when scans should not spool. */
    private room: number,
    private readonly onNotice: (message: string) => void,
    private readonly known: Digest[],
  ) {}

  /**
   * `known`: layers compressed before on this machine (the blob-info cache). A scan does not
   * spool them when their entry names them, nor go on spooling an archive mostly made of them.
   * `free`: the free bytes in `spoolDir`, when known; measured otherwise.
   */
  static async open(
    spoolDir: string,
    compression: CompressionChoice,
    options: { filtered: boolean; onNotice: (message: string) => void; known: Digest[]; free?: number },
  ): Promise<EarlySpools> {
    const { filtered, onNotice, known } = options;
    const free = filtered ? 0 : (options.free ?? (await freeBytes(spoolDir)));
    return new EarlySpools(spoolDir, compression, Math.max(0, free - keepFree), onNotice, known);
  }

  /** `scan`, spooling on its way when the disk has room for the archive's layers. */
  scanner(scan: Scanner): Scanner {
    return async (source, onRawBytes = () => {}) => {
      const need = await this.spoolSizeBound(source);
      if (need === undefined || this.room === 0) return scan(source, onRawBytes);
      if (need > this.room) {
        this.onNotice(
          `${source.path}: reading it twice, as ${this.spoolDir} has too little free space to keep its layers (~${formatBytes(need)}) until the plan; point TMPDIR at a larger disk to read it once`,
        );
        return scan(source, onRawBytes);
      }
      this.room -= need;
      const blobs = new EarlyBlobs();
      this.spooled.set(source.path, blobs);
      const filePrefix = join(this.spoolDir, `early-${this.started++}-`);
      const speculation = { filePrefix, compression: this.compression, known: this.known };
      let read = 0;
      const counted = (n: number) => {
        read += n;
        onRawBytes(n);
      };
      try {
        return await scanAndSpoolInWorker(source, counted, speculation, {
          claim: (entry, size) => this.claim(entry, size),
          onSpooled: async (entry, blob) => blobs.add(entry, blob),
        });
      } catch (err) {
        this.spooled.delete(source.path);
        await blobs.discard();
        if (err instanceof ArchiveError) throw err;
        // Spooling failed (the disk filled up): read the archive the usual way.
        this.onNotice(`${source.path}: ${(err as Error).message}; reading it twice instead`);
        onRawBytes(-read); // it is read again from the start
        return scan(source, onRawBytes);
      }
    };
  }

  /** Whether the asking scan is the first to spool an entry of this name and size. */
  private claim(entry: string, size: number): boolean {
    const key = `${size} ${entry}`;
    if (this.claimed.has(key)) return false;
    this.claimed.add(key);
    return true;
  }

  /**
   * The layer as read from another archive when that archive's scan spooled it and the planned
   * one's did not (it skipped an entry another scan claimed): the same content, by its digest.
   */
  relocated(layer: LayerPlan, archives: ScannedArchive[]): LayerPlan {
    if (this.spooled.get(layer.archive)?.has(layer.source.entry)) return layer;
    for (const [path, blobs] of this.spooled) {
      if (!blobs.holds(layer.key)) continue;
      const source = archives
        .find((archive) => archive.path === path)
        ?.images.flatMap((image) => image.layers)
        .find((other) => layerKey(other) === layer.key);
      if (source) return { ...layer, archive: path, source };
    }
    return layer;
  }

  /** What the scan of this archive spooled, if anything: then the caller's to use or discard. */
  take(path: string): EarlyBlobs | undefined {
    const blobs = this.spooled.get(path);
    this.spooled.delete(path);
    return blobs;
  }

  /** Deletes what no one took: archives the plan reads nothing from, or a run that stopped early. */
  async discard(): Promise<void> {
    await Promise.all([...this.spooled.values()].map((blobs) => blobs.discard()));
    this.spooled.clear();
  }

  /**
   * How much spooling a compressed archive's layers may take, compressed at the fast level
   * spooling uses: up to twice a gzip archive, four times a zstd one (`--long` finds repeats
   * across layers: one real-like archive, 64 MB, spools ~200 MB); three times that uncompressed
   * (`--compression none`). A guess either way: a spool that fills the disk falls back to a
   * plain scan. None for a plain tar: its scan skips layers by their headers and inflates
   * nothing, so spooling them on its way would only hold the plan (and uploads) back.
   */
  private async spoolSizeBound(source: ArchiveSource): Promise<number | undefined> {
    const [compression, info] = await Promise.all([
      detectCompression(source).catch(() => undefined),
      stat(source.file).catch(() => undefined),
    ]);
    if (!compression || compression === 'none' || !info) return undefined; // a plain tar, or one the scan will say is unreadable
    return spoolRatio[compression] * (this.compression.algorithm === 'none' ? 3 : 1) * info.size;
  }
}

/** The blobs one archive's scan spooled, by entry. */
export class EarlyBlobs {
  private readonly blobs = new Map<string, SpooledBlob>();

  add(entry: string, blob: SpooledBlob): void {
    this.blobs.set(entry, blob);
  }

  has(entry: string): boolean {
    return this.blobs.has(entry);
  }

  /** Whether a blob read as this content (a diffID, or an original blob's digest) is here. */
  holds(inputDigest: Digest): boolean {
    return [...this.blobs.values()].some((blob) => blob.inputDigest === inputDigest);
  }

  /** The jobs these blobs do not do: entries not spooled, or spooled otherwise than the job asks. */
  unspooled(jobs: SpoolJob[]): SpoolJob[] {
    return jobs.filter((job) => !this.blobFor(job));
  }

  /** Hands each job's blob to `onSpooled`, in archive order, and deletes the others. */
  async handOver(jobs: SpoolJob[], onSpooled: (entry: string, blob: SpooledBlob) => Promise<void>): Promise<void> {
    const wanted = new Set(jobs.filter((job) => this.blobFor(job)).map((job) => job.entry));
    for (const [entry, blob] of this.blobs) {
      this.blobs.delete(entry);
      await (wanted.has(entry) ? onSpooled(entry, blob) : rm(blob.file, { force: true }));
    }
  }

  async discard(): Promise<void> {
    await Promise.all([...this.blobs.values()].map((blob) => rm(blob.file, { force: true })));
    this.blobs.clear();
  }

  private blobFor(job: SpoolJob): SpooledBlob | undefined {
    const blob = this.blobs.get(job.entry);
    return blob && sameCompression(job.compression, blob.compression) ? blob : undefined;
  }
}

async function freeBytes(dir: string): Promise<number> {
  const info = await statfs(dir).catch(() => undefined);
  return info ? info.bavail * info.bsize : 0;
}

const sameCompression = (a?: CompressionChoice, b?: CompressionChoice): boolean =>
  a === b || (a !== undefined && b !== undefined && a.algorithm === b.algorithm && a.level === b.level);
