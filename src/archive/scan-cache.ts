/**
 * Remembers what reading an archive found, keyed by the file's identity (path, size, mtime,
 * inode), so that re-running a load on the same bundles — the resume case, or checking that
 * everything is there — skips decompressing gigabytes just to find metadata at their end.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { ScannedArchive } from './model.js';
import type { ArchiveSource } from './open.js';
import { replaceFile } from '../workspace.js';

/** Bumped whenever ScannedArchive changes shape, so old entries are ignored. */
const formatVersion = 2;

export class ScanCache {
  constructor(private readonly dir: string | null) {}

  async get(source: ArchiveSource): Promise<ScannedArchive | undefined> {
    const file = await this.entryFile(source);
    if (!file) return undefined;
    try {
      const cached = JSON.parse(await readFile(file, 'utf8'), revive) as ScannedArchive;
      return { ...cached, path: source.path, file: source.file };
    } catch {
      return undefined; // missing or damaged: read the archive
    }
  }

  async set(source: ArchiveSource, archive: ScannedArchive): Promise<void> {
    const file = await this.entryFile(source);
    if (!file) return;
    await replaceFile(file, JSON.stringify(archive, replace));
  }

  private async entryFile(source: ArchiveSource): Promise<string | undefined> {
    if (this.dir === null || source.path === '-') return undefined;
    const info = await stat(source.file).catch(() => undefined);
    if (!info) return undefined;
    const identity = [formatVersion, resolve(source.file), info.size, info.mtimeMs, info.ino, info.dev].join('\0');
    return join(this.dir, 'scans', `${createHash('sha256').update(identity).digest('hex')}.json`);
  }
}

/** Buffers as base64 strings rather than JSON arrays of numbers. */
function replace(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return Buffer.isBuffer(raw) ? { $base64: raw.toString('base64') } : value;
}

function revive(_key: string, value: unknown): unknown {
  const encoded = (value as { $base64?: unknown } | null)?.$base64;
  return typeof encoded === 'string' ? Buffer.from(encoded, 'base64') : value;
}
