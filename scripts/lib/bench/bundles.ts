/**
 * The benchmark's bundle set: one k3s-like `docker save` bundle per K3S_PLATFORMS entry,
 * gzip-compressed at gzip's default level 6 (what `gzip`/`pigz` give, as in k3s's packaging).
 * A set is generated once per scale and content into `<dir>/scale-<N>-<content>/` and reused
 * while its `bundles.json` is there; the three arches are written in parallel worker threads.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { createGzip } from 'node:zlib';
import { archName, k3sLikeImages, K3S_PLATFORMS, type Platform, writeLegacyBundle } from '../bundle-gen.js';
import { which } from '../process.js';

export interface Bundle {
  file: string;
  platform: Platform;
  /** Size of the uncompressed tar. */
  tarBytes: number;
  gzipBytes: number;
}

/**
 * What the images' binaries are made of: `executables` cuts them from a real Go executable
 * (the registry's own), so bundles compress like real k3s ones (to ~30 %); `random` makes them
 * incompressible, as the benchmark did before (bundles compress to ~78 %).
 */
export const CONTENTS = ['executables', 'random'] as const;
export type BundleContent = (typeof CONTENTS)[number];

/** `--content`, for both benchmarks. */
export const contentOption = {
  choices: CONTENTS,
  default: 'executables' as BundleContent,
  describe: "what the images' binaries are made of: slices of a real executable (compress like real ones), or random bytes",
} as const;

export interface BundleSet {
  scale: number;
  content: BundleContent;
  /** The executable the binaries were cut from. */
  executable?: string;
  bundles: Bundle[];
}

export interface BundleJob {
  file: string;
  platform: Platform;
  scale: number;
  executable?: string;
}

/** The Go executable the binaries are cut from: the registry's, which the benchmark needs anyway. */
const SOURCE_EXECUTABLE = 'docker-registry';

/** Where `--keep` caches generated bundles: `.bench/` at the repository root (this file is dist/scripts/lib/bench/). */
export const keepDir = fileURLToPath(new URL('../../../../.bench', import.meta.url));

/** The `RepoTags` of the images in every bundle of the set (the same on each arch). */
export function benchImages(): string[] {
  return k3sLikeImages('amd64').flatMap((image) => image.repoTags);
}

export async function bundleSet(dir: string, scale: number, content: BundleContent): Promise<BundleSet> {
  const setDir = join(dir, `scale-${scale}-${content}`);
  const index = join(setDir, 'bundles.json');
  try {
    const set = JSON.parse(await readFile(index, 'utf8')) as BundleSet;
    await Promise.all(set.bundles.map((bundle) => stat(bundle.file)));
    return set;
  } catch {
    // Not generated yet, interrupted, or its files are gone: generate below.
  }
  const executable = content === 'executables' ? which(SOURCE_EXECUTABLE) : undefined;
  if (content === 'executables' && !executable) {
    throw new Error(`${SOURCE_EXECUTABLE} is not on PATH: install it (Debian: docker-registry), or use --content random`);
  }
  const jobs = K3S_PLATFORMS.map((platform) => ({
    file: join(setDir, `k3s-airgap-images-${archName(platform)}.tar.gz`),
    platform,
    scale,
    executable,
  }));
  const set: BundleSet = { scale, content, executable, bundles: await Promise.all(jobs.map(inWorker)) };
  await writeFile(index, JSON.stringify(set, null, 2));
  return set;
}

/** Writes the uncompressed tar, then gzips it, like `docker save -o x.tar && gzip x.tar`. */
export async function writeGzippedBundle({ file, platform, scale, executable }: BundleJob): Promise<Bundle> {
  const tarFile = file.replace(/\.gz$/, '');
  await writeLegacyBundle(tarFile, { platform, images: k3sLikeImages(archName(platform), { scale, executable }) });
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
