/**
 * Second pass over an archive: hands file entries' bodies to `visit` in archive order, each
 * name once (its first entry), until `visit` answers 'stop'.
 */
import type { Readable } from 'node:stream';
import { type ArchiveSource, type Compression, walkArchive } from './open.js';
import { readFailure } from './scan.js';

export async function readEntries(
  { path, file }: ArchiveSource,
  compression: Compression,
  visit: (name: string, body: Readable) => Promise<void | 'stop'>,
  onRawBytes?: (n: number) => void,
): Promise<void> {
  const seen = new Set<string>();
  try {
    await walkArchive(
      file,
      compression,
      async (entry, body) => {
        if (entry.name === null || entry.type !== 'file' || seen.has(entry.name)) return;
        seen.add(entry.name);
        return visit(entry.name, body);
      },
      onRawBytes,
    );
  } catch (err) {
    throw readFailure(path, err);
  }
}
