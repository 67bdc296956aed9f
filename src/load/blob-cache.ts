/**
 * Remembers what each uncompressed layer compressed to (diffID → digest and size), so a
 * re-run can ask the registry for the compressed blob without reading the archive again.
 * Compression is deterministic, so an entry stays true for the same algorithm and level.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Digest, isDigest } from '../oci/digest.js';

export interface CompressedBlob {
  digest: Digest;
  size: number;
}

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'airlift');
}

export class BlobInfoCache {
  private changed = false;

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

  set(diffID: Digest, compression: string, blob: CompressedBlob): void {
    this.entries.set(`${compression}:${diffID}`, blob);
    this.changed = true;
  }

  async save(): Promise<void> {
    if (!this.file || !this.changed) return;
    await mkdir(join(this.file, '..'), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(Object.fromEntries(this.entries)));
    await rename(temp, this.file);
  }
}
