/**
 * The archives a command was given, read: `-` is standard input, spooled to a file in the
 * work dir because planning needs a second pass over every archive.
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveError } from './errors.js';
import type { ScannedArchive } from './model.js';
import type { ArchiveSource } from './open.js';
import { readArchive } from './read.js';
import type { Scanner } from './scan.js';
import { ScanCache } from './scan-cache.js';

export interface ReadProgress {
  /** Archive bytes read so far, of `total` (0 while standard input is being spooled). */
  onRead(bytes: number, total: number): void;
  onNotice(message: string): void;
  /** When given, an archive that cannot be read is reported here and left out; otherwise its error is thrown. */
  onUnreadable?(err: ArchiveError): void;
}

export interface ReadOptions {
  /** What earlier runs found in the same files. */
  cache?: ScanCache;
  /** How an archive not in the cache is scanned. */
  scan?: Scanner;
  stdin?: Readable;
}

export async function readArchives(
  paths: string[],
  workDir: string,
  progress: ReadProgress,
  { cache = new ScanCache(null), scan, stdin = process.stdin }: ReadOptions = {},
): Promise<ScannedArchive[]> {
  const sources = await resolveSources(paths, workDir, progress, stdin);
  const cached = await Promise.all(sources.map((source) => cache.get(source)));
  const toRead = sources.filter((_, i) => !cached[i]);
  const sizes = await Promise.all(toRead.map(async (s) => (await stat(s.file).catch(() => ({ size: 0 }))).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  let read = 0;
  const archives = await Promise.all(
    sources.map(async (source, i) => {
      if (cached[i]) return cached[i];
      try {
        const archive = await readArchive(source, (n) => progress.onRead((read += n), total), scan);
        await cache.set(source, archive).catch((err: Error) => progress.onNotice(`cannot cache what ${source.path} holds: ${err.message}`));
        return archive;
      } catch (err) {
        if (!(err instanceof ArchiveError) || !progress.onUnreadable) throw err;
        progress.onUnreadable(err);
        return undefined;
      }
    }),
  );
  return archives.filter((archive) => archive !== undefined);
}

async function resolveSources(paths: string[], workDir: string, progress: ReadProgress, stdin: Readable): Promise<ArchiveSource[]> {
  const seen = new Set<string>();
  const sources: ArchiveSource[] = [];
  for (const path of paths) {
    const key = path === '-' ? '-' : resolve(path);
    if (seen.has(key)) {
      if (path === '-') throw new ArchiveError(path, 'standard input can be read only once');
      progress.onNotice(`${path} is named twice; reading it once`);
      continue;
    }
    seen.add(key);
    sources.push(path === '-' ? await spoolStdin(workDir, progress, stdin) : { path, file: path });
  }
  return sources;
}

async function spoolStdin(workDir: string, progress: ReadProgress, stdin: Readable): Promise<ArchiveSource> {
  progress.onNotice('copying standard input to a temporary file: planning reads every archive twice');
  const file = join(workDir, 'stdin.tar');
  let bytes = 0;
  stdin.on('data', (chunk: Buffer) => progress.onRead((bytes += chunk.length), 0));
  await pipeline(stdin, createWriteStream(file));
  return { path: '-', file };
}
