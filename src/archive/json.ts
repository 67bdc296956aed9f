/**
 * Parsing of untrusted JSON documents from archives, with errors that name the document.
 * Size alone does not bound what JSON.parse costs: 16 MiB of `[[[[…` takes ~800 MB of heap
 * and 16 MiB of `{},{},…` ~500 MB. So the shape is checked first, in one pass over the bytes,
 * against limits no real manifest, index or config comes near.
 */
import { ArchiveError } from './errors.js';
import type { ArchiveContents } from './scan.js';
import { metadataCap } from './scan.js';

/** Deepest nesting of arrays and objects accepted (real configs nest ~5 deep). */
export const maxJsonDepth = 64;
/** Most values (scalars, arrays, objects) accepted in one document. */
export const maxJsonValues = 500_000;

export function readJsonDocument(contents: ArchiveContents, name: string, what: string): unknown {
  const entry = contents.entries.get(name);
  if (!entry)
    throw new ArchiveError(
      contents.path,
      `${what} ${name} is missing from the archive: the bundle is incomplete; re-create or re-download it`,
    );
  if (entry.size > metadataCap) {
    throw new ArchiveError(
      contents.path,
      `${what} ${name} is ${entry.size} bytes, over the ${metadataCap / 1024 / 1024} MiB limit for metadata: the archive is not a genuine image bundle`,
    );
  }
  const bytes = contents.documents.get(name);
  if (!bytes) throw new ArchiveError(contents.path, `${what} ${name} is not JSON: the archive is corrupt`);
  const shape = jsonShapeProblem(bytes);
  if (shape) throw new ArchiveError(contents.path, `${what} ${name} ${shape}: the archive is not a genuine image bundle`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ArchiveError(contents.path, `${what} ${name} is not valid JSON (${(err as Error).message}): the archive is corrupt`);
  }
}

/** Why the document is too deep or too big to parse safely, or undefined. Strings are skipped, syntax is JSON.parse's job. */
export function jsonShapeProblem(bytes: Buffer): string | undefined {
  let depth = 0;
  // Every container and every comma starts a value: their count bounds the parsed size.
  let values = 0;
  for (let i = 0; i < bytes.length; i++) {
    switch (bytes[i]) {
      case 0x22: // '"': skip to the closing quote, past escapes
        for (i++; i < bytes.length && bytes[i] !== 0x22; i++) if (bytes[i] === 0x5c) i++;
        break;
      case 0x5b: // '['
      case 0x7b: // '{'
        if (++depth > maxJsonDepth) return `nests deeper than ${maxJsonDepth} levels`;
        if (++values > maxJsonValues) return `holds more than ${maxJsonValues} values`;
        break;
      case 0x5d: // ']'
      case 0x7d: // '}'
        depth--;
        break;
      case 0x2c: // ','
        if (++values > maxJsonValues) return `holds more than ${maxJsonValues} values`;
        break;
    }
  }
  return undefined;
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');
