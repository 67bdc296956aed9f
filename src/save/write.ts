/**
 * Writing one bundle file: a tar stream, compressed, hashed on its way to disk. Layers are
 * fetched into spool files ahead of the writer (a window of them at once, so the network
 * and the compressor both stay busy), then appended in order. The file appears under its
 * name only when complete.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { HashingPassThrough } from '../load/compress.js';
import { removeOnExit } from '../workspace.js';
import type { BundleEntry, LayerSource } from './layout.js';
import { type BundleCompression, bundleCompressor } from './compression.js';

export interface WriteOptions {
  compression: BundleCompression;
  /** The entries are compressed blobs (see bundleCompressor). */
  compressedContent: boolean;
  spoolDir: string;
  /** Layers fetched ahead of the one being written. */
  window: number;
  /** Fetches a layer into `file`; resolves to its size there. */
  fetchLayer: (layer: LayerSource, file: string) => Promise<number>;
}

/** Fixed times and modes: the same images give the same bundle bytes, and the same SHA256SUMS. */
const header = { mtime: new Date(0), uid: 0, gid: 0 };

export async function writeBundle(file: string, entries: BundleEntry[], options: WriteOptions): Promise<{ size: number; sha256: string }> {
  const partial = `${file}.partial`;
  const release = removeOnExit(partial);
  const pack = tar.pack();
  const hash = new HashingPassThrough();
  const compressor = bundleCompressor(options.compression, options.compressedContent);
  const output = compressor
    ? pipeline(pack, compressor, hash, createWriteStream(partial))
    : pipeline(pack, hash, createWriteStream(partial));
  output.catch(() => {}); // awaited below; a failure while entries are still added must not go unhandled
  const spools = new Map<number, Promise<{ file: string; size: number }>>();
  const fetchAhead = (from: number) => {
    for (let i = from; i < entries.length && spools.size < options.window; i++) {
      const entry = entries[i]!;
      if ('layer' in entry && !spools.has(i)) {
        const spool = join(options.spoolDir, `${basename(file)}-${i}`);
        const fetched = options.fetchLayer(entry.layer, spool).then((size) => ({ file: spool, size }));
        fetched.catch(() => {}); // awaited in order below
        spools.set(i, fetched);
      }
    }
  };
  try {
    for (let i = 0; i < entries.length; i++) {
      fetchAhead(i);
      const entry = entries[i]!;
      if ('bytes' in entry) pack.entry({ ...header, name: entry.name, mode: 0o644 }, entry.bytes);
      else if ('directory' in entry) pack.entry({ ...header, name: `${entry.name}/`, type: 'directory', mode: 0o755 });
      else {
        const spool = await spools.get(i)!;
        spools.delete(i);
        await appendFile(pack, entry.name, spool.file, spool.size);
        await rm(spool.file, { force: true });
      }
    }
    pack.finalize();
    await output;
    await rename(partial, file);
    return { size: hash.bytes, sha256: hash.digest().slice('sha256:'.length) };
  } catch (err) {
    pack.destroy();
    await Promise.allSettled(spools.values());
    await rm(partial, { force: true });
    throw err;
  } finally {
    release();
  }
}

function appendFile(pack: tar.Pack, name: string, file: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const entry = pack.entry({ ...header, name, size, mode: 0o644 }, (err) => (err ? reject(err) : resolve()));
    pipeline(createReadStream(file), entry).catch(reject);
  });
}
