/**
 * Compressing bundles and decompressing layers. gzip is zlib's; zstd is the `zstd` command,
 * when installed, with the settings k3s uses for its bundles (`-16 --long=25`: a 32 MiB window
 * that every zstd decompressor accepts without being told).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Duplex, Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { zlibChunkSize } from '../archive/open.js';
import { SaveError } from './plan.js';

export type BundleCompression = 'gzip' | 'zstd' | 'none';

export const bundleSuffix: Record<BundleCompression, string> = { gzip: '.tar.gz', zstd: '.tar.zst', none: '.tar' };

export function requireZstd(why: string): void {
  const found = (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, 'zstd'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) throw new SaveError(`${why} needs the zstd command, which is not installed: install zstd, or use --compression gzip`);
}

/**
 * `level` for gzip: bundles of already-compressed blobs gain almost nothing from effort, so
 * the caller picks a fast level for those and the default for uncompressed layers.
 */
export function bundleCompressor(compression: BundleCompression, gzipLevel: number): Duplex | undefined {
  switch (compression) {
    case 'gzip':
      return createGzip({ level: gzipLevel, chunkSize: zlibChunkSize });
    case 'zstd':
      return commandStream('zstd', ['-q', '-c', '-T0', '-16', '--long=25']);
    case 'none':
      return undefined;
  }
}

/** A decompressor for a layer of this media type, or undefined for an uncompressed one. */
export function layerDecompressor(mediaType: string): Duplex | undefined {
  if (/zstd/.test(mediaType)) return commandStream('zstd', ['-q', '-d', '-c', '--long=31']);
  if (/gzip/.test(mediaType)) return createGunzip({ chunkSize: zlibChunkSize });
  return undefined;
}

export const isZstdLayer = (mediaType: string): boolean => /zstd/.test(mediaType);

/** A filter command as a stream; its output ends only after a clean exit, so a failure cannot pass for short output. */
function commandStream(command: string, args: string[]): Duplex {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${stderr.trim()}`))));
  });
  const output = new Transform({
    transform: (chunk, _encoding, done) => done(null, chunk),
    flush: (done) => void exited.then(() => done(), done),
  });
  child.stdout.pipe(output);
  const stream = Duplex.from({ writable: child.stdin, readable: output });
  exited.catch((err: Error) => stream.destroy(err));
  stream.once('close', () => child.kill());
  return stream;
}
