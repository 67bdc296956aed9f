/**
 * Remembers what each uncompressed layer compressed to (diffID → digest and size), so a
 * re-run can ask the registry for the compressed blob without reading the archive again.
 * Compression is deterministic, so an entry stays true for the same algorithm and level.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Digest, isDigest } from '../oci/digest.js';
import { replaceFile } from '../workspace.js';

export interface CompressedBlob {
  digest: Digest;
  size: number;
}

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'airlift');
}

/** How soon new entries reach the disk, so that a run that dies half-way still leaves what it learnt. */
const saveDelayMs = 1000;

export class BlobInfoCache {
  private changed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Writes one at a time, in order. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string | undefined,
    private readonly entries: Map<string, CompressedBlob>,
  ) {}

  /** A cache kept in `dir`, or one that forgets everything when `dir` is null. */
  static async open(dir: string | null): Promise<BlobInfoCache> {
    if (dir === null) return new BlobInfoCache(undefined, new Map());
    const file = join(dir, 'blob-info.json');
    const entries = new Map<string, CompressedBlob>();
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as Record<string, CompressedBlob>;
      for (const [key, value] of Object.entries(parsed)) {
        if (isDigest(value?.digest) && Number.isSafeInteger(value.size)) entries.set(key, value);
      }
    } catch {
      // A missing or damaged cache only costs recompression.
    }
    return new BlobInfoCache(file, entries);
  }

  get(diffID: Digest, compression: string): CompressedBlob | undefined {
    return this.entries.get(`${compression}:${diffID}`);
  }

  /** The layers this cache knows a compressed blob of, for this compression. */
  diffIDs(compression: string): Digest[] {
    const prefix = `${compression}:`;
    return [...this.entries.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length) as Digest);
  }

  set(diffID: Digest, compression: string, blob: CompressedBlob): void {
    this.entries.set(`${compression}:${diffID}`, blob);
    this.changed = true;
    if (this.file && !this.timer) this.timer = setTimeout(() => void this.save().catch(() => {}), saveDelayMs);
  }

  async save(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const file = this.file;
    if (!file || !this.changed) return this.writing;
    this.changed = false;
    const text = JSON.stringify(Object.fromEntries(this.entries));
    this.writing = this.writing
      .catch(() => {})
      .then(async () => {
        await replaceFile(file, text);
      });
    return this.writing;
  }
}
