/** Second pass over an archive: hands the bodies of the wanted entries to `visit`, in archive order. */
import type { Readable } from 'node:stream';
import { ArchiveError } from './errors.js';
import { type ArchiveSource, type Compression, walkArchive } from './open.js';
import { readFailure } from './scan.js';

export async function readEntries(
  { path, file }: ArchiveSource,
  compression: Compression,
  wanted: ReadonlySet<string>,
  visit: (name: string, body: Readable) => Promise<void>,
  onRawBytes?: (n: number) => void,
): Promise<void> {
  const seen = new Set<string>();
  try {
    await walkArchive(
      file,
      compression,
      async (entry, body) => {
        if (entry.name === null || entry.type !== 'file' || !wanted.has(entry.name) || seen.has(entry.name)) return;
        seen.add(entry.name);
        await visit(entry.name, body);
      },
      onRawBytes,
    );
  } catch (err) {
    throw readFailure(path, err);
  }
  const missing = [...wanted].filter((name) => !seen.has(name));
  if (missing.length) {
    throw new ArchiveError(path, `entries ${missing.join(', ')} disappeared between passes: the file changed while airlift read it`);
  }
}
