/**
 * `save`: images from a registry into offline kits — one bundle per architecture named like
 * k3s's (`PREFIX-amd64.tar.gz`, `PREFIX-arm.tar.gz`), or one multi-arch archive — with a
 * `SHA256SUMS` beside them. Plan first (every image and platform found, or nothing written),
 * then write each bundle with blobs streamed from the registry and checked against their digests.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashingPassThrough } from '../load/compress.js';
import { limiter } from '../load/limit.js';
import { withWorkDir } from '../workspace.js';
import { type Digest, shortDigest } from '../oci/digest.js';
import type { Platform } from '../oci/platform.js';
import { formatReference, parseTargetRegistry, type Reference } from '../oci/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { downloadBlob } from '../remote/blobs.js';
import type { ConnectionSettings } from '../registry/connection.js';
import { connect } from '../remote/connect.js';
import { updateChecksums } from './checksums.js';
import { type BundleCompression, bundleSuffix, layerDecompressor } from './compression.js';
import type { SaveEvent } from './events.js';
import { type LayerSource, legacyEntries, ociLayoutEntries } from './layout.js';
import { type BundlePlan, planBundles, SaveError } from './plan.js';
import { writeBundle } from './write.js';

export { SaveError } from './plan.js';

export interface SaveOptions {
  /** Source registry: `HOST[:PORT][/NAMESPACE]`; images are read at NAMESPACE/<repository>. */
  from: string;
  connection?: ConnectionSettings;
  images: Reference[];
  platforms: Platform[];
  outDir: string;
  /** File name prefix; `airgap-images` gives `airgap-images-amd64.tar.gz`. */
  name?: string;
  compression?: BundleCompression;
  /** `docker save` < 25 layout (uncompressed layers), for Docker < 25. */
  legacy?: boolean;
  /** One archive with every platform and the index, instead of one per architecture. */
  multiArch?: boolean;
  concurrency?: number;
  onEvent?: (event: SaveEvent) => void;
}

export interface SavedBundle {
  file: string;
  platforms: string[];
  size: number;
  sha256: string;
  images: Array<{
    name: string;
    /** What index.json lists for the image (the saved platform's manifest for --legacy). */
    digest: Digest;
    platforms: Array<{ platform: string; manifestDigest: Digest; configDigest: Digest }>;
  }>;
}

export interface SaveResult {
  bundles: SavedBundle[];
  /** The SHA256SUMS file. */
  checksums: string;
  bytesDownloaded: number;
  durationMs: number;
}

export const defaultBundlePrefix = 'airgap-images';

export async function save(options: SaveOptions): Promise<SaveResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const compression = options.compression ?? 'gzip';
  const prefix = options.name ?? defaultBundlePrefix;
  checkOptions(options, prefix);
  const from = parseTargetRegistry(options.from, '--from');
  const concurrency = options.concurrency ?? 4;
  const client = await connect(from, { flags: { registry: '--from', prefix: '' }, ...options.connection });
  try {
    await client.ping();
    const legacy = options.legacy ?? false;
    const plans = await planBundles(
      client,
      from,
      { images: options.images, platforms: options.platforms, prefix, multiArch: options.multiArch ?? false, legacy, concurrency },
      emit,
    );
    await mkdir(options.outDir, { recursive: true });
    // Spooled layers sit beside the bundles: that disk is sized for kits, a tmpfs /tmp may not be.
    return await withWorkDir(
      async (spoolDir) => {
        const jobs = plans.map((plan) => ({ plan, entries: legacy ? legacyEntries(plan) : ociLayoutEntries(plan) }));
        const total = jobs.flatMap((job) => job.entries).reduce((sum, entry) => sum + ('layer' in entry ? entry.layer.blob.size : 0), 0);
        let bytesDownloaded = 0;
        const downloads = limiter(concurrency);
        const fetchLayer = (layer: LayerSource, file: string) =>
          downloads(async () => {
            const size = await fetchInto(client, layer, file);
            emit({ type: 'read', bytes: (bytesDownloaded += layer.blob.size), total });
            return size;
          });
        const bundles = await Promise.all(
          jobs.map(async ({ plan, entries }) => {
            const file = join(options.outDir, `${plan.stem}${bundleSuffix[compression]}`);
            const written = await writeBundle(file, entries, {
              compression,
              compressedContent: !legacy,
              spoolDir,
              window: concurrency,
              fetchLayer,
            });
            const bundle = describeBundle(file, plan, written, legacy);
            emit({ type: 'bundle', bundle });
            return bundle;
          }),
        );
        const checksums = await updateChecksums(options.outDir, bundles);
        return { bundles, checksums, bytesDownloaded, durationMs: Date.now() - started };
      },
      options.outDir,
      '.airlift-spool-',
    );
  } finally {
    await client.close();
  }
}

function checkOptions(options: SaveOptions, prefix: string): void {
  if (options.platforms.length === 0) throw new SaveError('name at least one --platform: a kit is built per architecture');
  if (options.images.length === 0) throw new SaveError('no images to save: name them, or pass --image-list');
  if (!/^[A-Za-z0-9._-]+$/.test(prefix))
    throw new SaveError(`--name "${prefix}" must be a plain file name prefix (letters, digits, . _ -)`);
  if (options.legacy && options.multiArch) throw new SaveError('--legacy holds one platform per image; it cannot be --multi-arch');
}

/** The layer as the layout wants it: the blob itself, or for --legacy its uncompressed tar, checked against the diff_id. */
async function fetchInto(client: RegistryClient, layer: LayerSource, file: string): Promise<number> {
  await downloadBlob(client, layer.repository, layer.blob, file);
  if (!layer.diffID) return layer.blob.size;
  const blobFile = `${file}.blob`;
  await rename(file, blobFile);
  const hash = new HashingPassThrough();
  const decompressor = layerDecompressor(layer.blob.mediaType);
  const target = createWriteStream(file);
  await (decompressor
    ? pipeline(createReadStream(blobFile), decompressor, hash, target)
    : pipeline(createReadStream(blobFile), hash, target));
  await rm(blobFile, { force: true });
  const diffID = hash.digest();
  if (diffID !== layer.diffID) {
    throw new SaveError(
      `layer ${shortDigest(layer.blob.digest)} of ${client.host}/${layer.repository} uncompresses to ${shortDigest(diffID)}, not its config's diff_id ${shortDigest(layer.diffID)}: the image is inconsistent; save it without --legacy`,
    );
  }
  return hash.bytes;
}

function describeBundle(file: string, plan: BundlePlan, written: { size: number; sha256: string }, legacy: boolean): SavedBundle {
  return {
    file,
    platforms: plan.platforms,
    ...written,
    images: plan.images.map((image) => {
      const children = legacy ? image.children.slice(0, 1) : image.children;
      return {
        name: formatReference(image.name),
        digest: legacy ? children[0]!.manifest.digest : image.top.digest,
        platforms: children.map((child) => ({
          platform: child.platform,
          manifestDigest: child.manifest.digest,
          configDigest: child.config.descriptor.digest,
        })),
      };
    }),
  };
}
