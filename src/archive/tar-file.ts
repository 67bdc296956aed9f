/**
 * A walk over an uncompressed tar FILE by its headers alone: bodies are read only when the
 * visitor reads them, so scanning a plain `docker save` archive reads its few KB of headers
 * and metadata instead of every layer, and a later pass reads only the layers it wants.
 * Compressed archives cannot seek and go through `walkTar` (tar-stream); the header rules
 * here are the ones tar-stream applies (ustar prefix, GNU long names, pax path/linkpath/size).
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type EntryType, safeEntryName, type TarVisitor } from './tar.js';

const BLOCK = 512;
/** Largest long-name or pax body read into memory; real ones are a few hundred bytes. */
const maxMetaBody = 1024 * 1024;
/** Body reads as large as the stream walker's file reads, after a first small one: a scan wants only a body's first bytes. */
const bodyReadSize = 256 * 1024;
const firstReadSize = 4 * 1024;

interface Header {
  name: string;
  type: string;
  size: number;
  linkname: string;
}

/**
 * Visits every entry like `walkTar`. The body stream reads the entry's bytes from the file on
 * demand; what the visitor leaves unread is skipped, not read. `onRawBytes` reports file
 * bytes walked past, read or not, for progress.
 */
export async function walkTarFile(file: string, visit: TarVisitor, onRawBytes: (n: number) => void = () => {}): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const block = Buffer.alloc(BLOCK);
    // What long-name and pax headers say about the next entry.
    let next: Record<string, string> = {};
    for (let at = 0; at < fileSize;) {
      if (fileSize - at < BLOCK) throw new Error('unexpected end of data in a tar header');
      await readFully(handle, block, at);
      const header = decodeHeader(block);
      at += BLOCK;
      if (!header) {
        onRawBytes(BLOCK); // end-of-archive marker or padding
        continue;
      }
      let { size } = header;
      if (header.type === 'x' || header.type in longNameKeys) {
        next = { ...next, ...(await extendedHeader(handle, header, at)) };
      } else if (header.type !== 'g') {
        // (Global pax headers say nothing about names or sizes in practice: git archive's holds a comment.)
        const name = next.path ?? header.name;
        if (next.size !== undefined) size = Number.parseInt(next.size, 10);
        if (!(size >= 0) || at + padded(size) > fileSize) throw new Error(`unexpected end of data in entry ${name}`);
        const type = entryTypes[header.type] ?? 'other';
        const linkname = (next.linkpath ?? header.linkname) || undefined;
        next = {};
        const body = bodyStream(handle, at, size);
        try {
          if ((await visit({ name: safeEntryName(name), rawName: name, type, size, linkname }, body)) === 'stop') return;
        } finally {
          body.destroy();
        }
      }
      at += padded(size);
      onRawBytes(BLOCK + padded(size));
    }
  } finally {
    await handle.close();
  }
}

/** GNU's long name and long link headers, and the pax key each stands for. */
const longNameKeys: Record<string, string> = { L: 'path', K: 'linkpath' };

/** What a pax or GNU long-name header at `at` says about the next entry, as pax records. */
async function extendedHeader(handle: FileHandle, header: Header, at: number): Promise<Record<string, string>> {
  if (header.size > maxMetaBody) throw new Error(`a tar header of ${header.size} bytes: more than the ${maxMetaBody} allowed`);
  const body = Buffer.alloc(header.size);
  await readFully(handle, body, at);
  return header.type === 'x' ? decodePax(body) : { [longNameKeys[header.type]]: cString(body) };
}

const padded = (size: number): number => Math.ceil(size / BLOCK) * BLOCK;

/** The entry's bytes, read from the file only as they are consumed. */
function bodyStream(handle: FileHandle, start: number, size: number): Readable {
  let done = 0;
  return new Readable({
    highWaterMark: bodyReadSize,
    read() {
      if (done === size) return void this.push(null);
      const chunk = Buffer.allocUnsafe(Math.min(done === 0 ? firstReadSize : bodyReadSize, size - done));
      readFully(handle, chunk, start + done).then(
        () => {
          done += chunk.length;
          this.push(chunk);
        },
        (err: Error) => this.destroy(err),
      );
    },
  });
}

async function readFully(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  for (let got = 0; got < into.length;) {
    const { bytesRead } = await handle.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) throw new Error('unexpected end of data');
    got += bytesRead;
  }
}

/** A header block's fields, null for an all-zero block; a bad checksum or unknown magic is an error. */
function decodeHeader(block: Buffer): Header | null {
  if (block.every((byte) => byte === 0)) return null;
  if (octal(block, 148, 8) !== checksum(block)) {
    throw new Error('invalid tar header (bad checksum): the tar is corrupt, or still compressed');
  }
  const magic = block.toString('latin1', 257, 263);
  const ustar = magic === 'ustar\0';
  if (!ustar && magic !== 'ustar ') throw new Error('invalid tar header: unknown format');
  let name = cString(block.subarray(0, 100));
  if (ustar && block[345] !== 0) name = `${cString(block.subarray(345, 500))}/${name}`;
  let type = block[156] === 0 ? '0' : String.fromCharCode(block[156]);
  // Old tars mark directories by a trailing slash on a regular file.
  if (type === '0' && name.endsWith('/')) type = '5';
  const size = octal(block, 124, 12);
  if (!(size >= 0)) throw new Error('invalid tar header: bad size field');
  return { name, type, size, linkname: cString(block.subarray(157, 257)) };
}

/** tar typeflags: regular and contiguous files, hard links, symlinks, directories. */
const entryTypes: Record<string, EntryType> = { '0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '5': 'directory' };

function checksum(block: Buffer): number {
  let sum = 8 * 0x20; // the checksum field itself counts as spaces
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i];
  return sum;
}

/** An octal number field, or a base-256 one (first byte 0x80: GNU's form for sizes of 8 GiB and more). */
function octal(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] === 0x80) return field.subarray(1).reduce((value, byte) => value * 256 + byte, 0);
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

const cString = (bytes: Buffer): string => {
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end === -1 ? bytes.length : end);
};

/** pax records: `<length> <key>=<value>\n`. */
function decodePax(body: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  for (let at = 0; at < body.length;) {
    const space = body.indexOf(0x20, at);
    const length = Number.parseInt(body.toString('latin1', at, space), 10);
    if (space === -1 || !(length > 0)) break;
    const record = body.toString('utf8', space + 1, at + length - 1);
    const equals = record.indexOf('=');
    if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return records;
}
