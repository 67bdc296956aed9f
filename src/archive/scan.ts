/**
 * First pass over an archive: list its entries and keep the small JSON documents
 * (manifests, configs, indexes) in memory, skipping layer bodies. Every producer writes
 * its metadata at the END of the tar, so nothing can be planned before this pass ends.
 */
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ArchiveError } from './errors.js';
import { type ArchiveSource, type Compression, detectCompression, walkArchive } from './open.js';
import type { TarEntry } from './tar.js';

/** Largest metadata document read into memory (manifest.json, index.json, configs). */
export const metadataCap = 16 * 1024 * 1024;
/** Most metadata kept in memory for one archive: real bundles hold a few MB of it. */
export const metadataTotalCap = 4 * metadataCap;
/** Most entries listed for one archive: a large real bundle has a few thousand. */
export const entryCap = 200_000;

export interface ArchiveContents extends ArchiveSource {
  compression: Compression;
  fileSize: number;
  entries: Map<string, TarEntry>;
  /** Bodies of small entries that look like JSON, by entry name. */
  documents: Map<string, Buffer>;
  /** First bytes of every file entry, to recognise compressed layers. */
  heads: Map<string, Buffer>;
  /** Entries whose names were unsafe (absolute, `..`) and are ignored. */
  unsafeNames: string[];
}

/** Scans an archive: `scanArchive` here, or the same in a worker thread. */
export type Scanner = (source: ArchiveSource, onRawBytes?: (n: number) => void) => Promise<ArchiveContents>;

/**
 * Reads a file body the scan does not keep (a layer, mostly), the first time its name comes:
 * a scan that spools layers on the way (load/early-spool.ts). `head` is the body's first bytes,
 * which the scan has read already (the body still holds them). Bodies it leaves are skipped.
 */
export type OtherBody = (entry: { name: string; size: number; head: Buffer }, body: Readable) => Promise<void>;

export async function scanArchive(
  source: ArchiveSource,
  onRawBytes?: (n: number) => void,
  onOtherBody?: OtherBody,
): Promise<ArchiveContents> {
  const { path, file } = source;
  const compression = await detectCompression(source);
  const { size: fileSize } = await stat(file);
  const contents: ArchiveContents = {
    path,
    file,
    compression,
    fileSize,
    entries: new Map(),
    documents: new Map(),
    heads: new Map(),
    unsafeNames: [],
  };
  let kept = 0;
  try {
    await walkArchive(
      file,
      compression,
      async (entry, body) => {
        if (contents.entries.size + contents.unsafeNames.length >= entryCap) {
          throw new ArchiveError(path, `more than ${entryCap} entries: the archive is not a genuine image bundle`);
        }
        if (entry.name === null) {
          contents.unsafeNames.push(entry.rawName);
          return;
        }
        const first = !contents.entries.has(entry.name);
        contents.entries.set(entry.name, entry);
        if (entry.type === 'file' && entry.size > 0) {
          const { head, document } = await readHeadAndJson(body, entry.size <= metadataCap);
          contents.heads.set(entry.name, head);
          if (!document) return first ? onOtherBody?.({ name: entry.name, size: entry.size, head }, body) : undefined;
          kept += document.length;
          if (kept > metadataTotalCap) {
            throw new ArchiveError(
              path,
              `more than ${metadataTotalCap / 1024 / 1024} MiB of JSON documents: the archive is not a genuine image bundle`,
            );
          }
          contents.documents.set(entry.name, document);
        }
      },
      onRawBytes,
    );
  } catch (err) {
    throw readFailure(path, err);
  }
  if (contents.entries.size === 0) {
    throw new ArchiveError(path, 'the archive holds no entries: re-copy the bundle');
  }
  return contents;
}

const headLength = 8;

/**
 * Keeps the first bytes of the body, and the whole body when it may be a metadata document
 * (small and opening a JSON object or array). Other bodies are left unread after their first
 * chunk: the walk skips or drains them.
 */
async function readHeadAndJson(body: Readable, mayBeDocument: boolean): Promise<{ head: Buffer; document?: Buffer }> {
  const first = await firstChunk(body);
  const head = Buffer.from((first ?? Buffer.alloc(0)).subarray(0, headLength));
  if (!first || !(mayBeDocument && looksLikeJson(first))) return { head };
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return { head, document: Buffer.concat(chunks) };
}

/** The body's first chunk, put back in front of the rest (the body is left paused); undefined when empty. */
function firstChunk(body: Readable): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      body.pause();
      body.off('data', onData);
      body.unshift(chunk);
      resolve(chunk);
    };
    body.on('data', onData);
    body.once('end', () => resolve(undefined));
  });
}

const looksLikeJson = (chunk: Buffer): boolean => {
  const first = chunk.subarray(0, 64).toString('latin1').trimStart()[0];
  return first === '{' || first === '[';
};

/** Turns zlib/tar stream failures into one line a user can act on. */
export function readFailure(path: string, err: unknown): Error {
  if (err instanceof ArchiveError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/unexpected end|premature|truncated/i.test(message)) {
    return new ArchiveError(path, `the archive is truncated (${message}): re-copy or re-download it`);
  }
  if (/incorrect header check|invalid|unknown compression|header/i.test(message)) {
    return new ArchiveError(path, `the archive is corrupt (${message}): re-copy or re-download it`);
  }
  return new ArchiveError(path, `cannot read the archive: ${message}`);
}
