/**
 * Walks an archive file's tar entries, whatever its compression. Compression is recognised by
 * magic bytes, never by file name: bundles get renamed on their way to a site.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DecompressStream } from 'zstd-napi';
import { ArchiveError } from './errors.js';
import { type TarVisitor, walkTar } from './tar.js';
import { walkTarFile } from './tar-file.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** An archive as the user named it (`path`, `-` for stdin) and the file that holds its bytes. */
export interface ArchiveSource {
  path: string;
  file: string;
}

/** Large zlib chunks roughly double gunzip throughput over the 16 KiB default. */
export const zlibChunkSize = 256 * 1024;
/** File reads as large as zlib's chunks: larger ones only add to the memory each archive holds. */
const readHighWaterMark = zlibChunkSize;
/** k3s bundles use `zstd --long=25`; accept windows up to 128 MiB, as `zstd --long=27` does. */
export const zstdWindowLogMax = 27;

export async function detectCompression({ path, file }: ArchiveSource): Promise<Compression> {
  const handle = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new ArchiveError(path, `cannot open: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  try {
    const magic = Buffer.alloc(262);
    const { bytesRead } = await handle.read(magic, 0, magic.length, 0);
    if (bytesRead === 0) throw new ArchiveError(path, 'the file is empty: re-copy the bundle');
    const compressed = compressionOf(magic.subarray(0, bytesRead));
    if (compressed) return compressed;
    if (bytesRead >= 262 && magic.toString('latin1', 257, 262) === 'ustar') return 'none';
    throw new ArchiveError(
      path,
      'not a tar archive (plain, gzip or zstd): check that this is an image bundle and that the copy is complete',
    );
  } finally {
    await handle.close();
  }
}

/** gzip or zstd when the bytes start with that format's magic number. */
export function compressionOf(head: Buffer): Exclude<Compression, 'none'> | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return undefined;
}

/**
 * Visits the archive's entries in order (see `walkTar`). A plain tar file is walked by its
 * headers, reading only the bodies the visitor reads; a compressed one is decompressed in
 * order, up to where the visitor stops. `onRawBytes` reports progress in file bytes: what is
 * read or skipped, and at the end what a stop left behind.
 */
export async function walkArchive(
  file: string,
  compression: Compression,
  visit: TarVisitor,
  onRawBytes: (n: number) => void = () => {},
): Promise<void> {
  const info = await stat(file);
  let reported = 0;
  let walking = true;
  const progress = (n: number) => {
    if (!walking) return; // reads still in flight when the visitor stopped
    reported += n;
    onRawBytes(n);
  };
  if (compression === 'none' && info.isFile()) await walkTarFile(file, visit, progress);
  else await walkTar(openTarStream(file, compression, progress), visit);
  walking = false;
  if (info.isFile() && reported < info.size) onRawBytes(info.size - reported);
}

/** The decompressed tar byte stream. */
function openTarStream(file: string, compression: Compression, onRawBytes: (n: number) => void): Readable {
  const raw = createReadStream(file, { highWaterMark: readHighWaterMark });
  raw.on('data', (chunk) => onRawBytes(chunk.length));
  switch (compression) {
    case 'none':
      return raw;
    case 'gzip':
      return pipeWithErrors(raw, createGunzip({ chunkSize: zlibChunkSize }));
    case 'zstd':
      return pipeWithErrors(raw, new DecompressStream({ windowLogMax: zstdWindowLogMax }));
  }
}

/** Like `pipe`, but an error on the source also fails the destination, and a destination destroyed early stops the source. */
function pipeWithErrors(source: Readable, dest: NodeJS.ReadWriteStream & Readable): Readable {
  source.on('error', (err) => dest.destroy(err));
  dest.on('close', () => source.destroy());
  return source.pipe(dest);
}
