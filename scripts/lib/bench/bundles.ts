/**
 * The benchmark's bundle set: one k3s-like `docker save` bundle per K3S_PLATFORMS entry,
 * gzip-compressed at gzip's default level 6 (what `gzip`/`pigz` give, as in k3s's packaging).
 * A set is generated once per scale into `<dir>/scale-<N>/` and reused while its
 * `bundles.json` is there; the three arches are written in parallel worker threads.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { createGzip } from 'node:zlib';
import { archName, k3sLikeImages, K3S_PLATFORMS, type Platform, writeLegacyBundle } from '../bundle-gen.js';

export interface Bundle {
  file: string;
  platform: Platform;
  /** Size of the uncompressed tar. */
  tarBytes: number;
  gzipBytes: number;
}

export interface BundleSet {
  scale: number;
  bundles: Bundle[];
}

export interface BundleJob {
  file: string;
  platform: Platform;
  scale: number;
}

/** Where `--keep` caches generated bundles: `.bench/` at the repository root (this file is dist/scripts/lib/bench/). */
export const keepDir = fileURLToPath(new URL('../../../../.bench', import.meta.url));

/** The `RepoTags` of the images in every bundle of the set (the same on each arch). */
export function benchImages(): string[] {
  return k3sLikeImages('amd64').flatMap((image) => image.repoTags);
}

export async function bundleSet(dir: string, scale: number): Promise<BundleSet> {
  const setDir = join(dir, `scale-${scale}`);
  const index = join(setDir, 'bundles.json');
  try {
    const set = JSON.parse(await readFile(index, 'utf8')) as BundleSet;
    await Promise.all(set.bundles.map((bundle) => stat(bundle.file)));
    return set;
  } catch {
    // Not generated yet, interrupted, or its files are gone: generate below.
  }
  const jobs = K3S_PLATFORMS.map((platform) => ({
    file: join(setDir, `k3s-airgap-images-${archName(platform)}.tar.gz`),
    platform,
    scale,
  }));
  const set: BundleSet = { scale, bundles: await Promise.all(jobs.map(inWorker)) };
  await writeFile(index, JSON.stringify(set, null, 2));
  return set;
}

/** Writes the uncompressed tar, then gzips it, like `docker save -o x.tar && gzip x.tar`. */
export async function writeGzippedBundle({ file, platform, scale }: BundleJob): Promise<Bundle> {
  const tarFile = file.replace(/\.gz$/, '');
  await writeLegacyBundle(tarFile, { platform, images: k3sLikeImages(archName(platform), { scale }) });
  const partial = `${file}.partial`;
  await pipeline(createReadStream(tarFile), createGzip({ level: 6 }), createWriteStream(partial));
  await rename(partial, file);
  const tarBytes = (await stat(tarFile)).size;
  await rm(tarFile);
  return { file, platform, tarBytes, gzipBytes: (await stat(file)).size };
}

function inWorker(job: BundleJob): Promise<Bundle> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./bundle-worker.js', import.meta.url), { workerData: job });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`bundle worker for ${job.file} exited with ${code} before finishing`)));
  });
}
