/** Parsing of untrusted JSON documents from archives, with errors that name the document. */
import { ArchiveError } from './errors.js';
import type { ArchiveContents } from './scan.js';
import { metadataCap } from './scan.js';

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
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ArchiveError(contents.path, `${what} ${name} is not valid JSON (${(err as Error).message}): the archive is corrupt`);
  }
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');
