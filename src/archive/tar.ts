/**
 * A sequential walk over tar entries. Entry names are normalised and checked here, once:
 * archives are untrusted, so names that are absolute or climb out with `..` are reported
 * as unsafe and never resolved.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';

export type EntryType = 'file' | 'symlink' | 'link' | 'directory' | 'other';

export interface TarEntry {
  /** Normalised name (no leading `./`), or null when the name is unsafe. */
  name: string | null;
  rawName: string;
  type: EntryType;
  size: number;
  linkname?: string;
}

/**
 * Visits the entries in order; `visit` consumes `body` or leaves it (it is drained then), and
 * ends the walk early by answering 'stop'.
 */
export type TarVisitor = (entry: TarEntry, body: Readable) => Promise<void | 'stop'>;

export async function walkTar(tarBytes: Readable, visit: TarVisitor): Promise<void> {
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      tarBytes.destroy();
      extract.destroy();
      reject(err);
    };
    tarBytes.on('error', fail);
    extract.on('error', fail);
    extract.on('finish', resolve);
    extract.on('entry', (header, body, next) => {
      const entry: TarEntry = {
        name: safeEntryName(header.name),
        rawName: header.name,
        type: entryType(header.type),
        size: header.size ?? 0,
        linkname: header.linkname ?? undefined,
      };
      let ended = false;
      body.on('end', () => {
        ended = true;
      });
      body.on('error', () => {}); // reported through `extract`
      visit(entry, body as unknown as Readable).then((answer) => {
        if (answer === 'stop') {
          resolve();
          tarBytes.destroy();
          extract.destroy();
          return;
        }
        if (ended) return next();
        body.on('end', () => next());
        body.resume();
      }, fail);
    });
    tarBytes.pipe(extract);
  });
}

function entryType(type: string | null | undefined): EntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'symlink':
    case 'link':
    case 'directory':
      return type;
    default:
      return 'other';
  }
}

export function safeEntryName(name: string): string | null {
  if (name.startsWith('/') || name.includes('\0')) return null;
  const normalised = posix.normalize(name).replace(/\/+$/, '');
  if (normalised === '..' || normalised.startsWith('../') || normalised === '.' || normalised === '') return null;
  return normalised;
}

/** Where a symlink entry points, as an archive entry name, or null when it leaves the archive. */
export function resolveLink(from: string, linkname: string, type: 'symlink' | 'link'): string | null {
  if (linkname.startsWith('/')) return null;
  // Hard links name their target from the archive root; symlinks relative to their directory.
  const target = type === 'link' ? linkname : posix.join(posix.dirname(from), linkname);
  return safeEntryName(target);
}
