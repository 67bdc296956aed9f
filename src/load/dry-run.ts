/**
 * `load --dry-run`: the whole plan and what the registry already holds, with no write. The
 * registry is asked with HEAD and GET only. A layer's blob digest is known when the archive
 * stores it compressed, or when the blob-info cache remembers what it compressed to in an
 * earlier run; a layer never compressed here has no digest yet: it counts as to upload,
 * with its size in the archive.
 */
import type { Digest } from '../oci/digest.js';
import { formatPlatform, normalizePlatform } from '../oci/platform.js';
import { formatReference } from '../oci/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { BlobInfoCache } from './blob-cache.js';
import { warningLog } from './events.js';
import { knownDescriptor } from './layers.js';
import { limiter } from './limit.js';
import { cacheDirOf, compressionChoice, defaultLoadConcurrency, type LoadOptions, planLoad, registryClient } from './load.js';
import { withWorkDir } from '../workspace.js';
import type { LayerPlan, TagPlan } from './plan.js';
import { archTagTargets, unusableEntriesWarning } from './tags.js';
import { currentEntries } from './verify.js';

/** `present`: in every repository that needs it; `mount`: in some, mounted into the rest; `upload`: in none (or unknown). */
export type BlobStatus = 'present' | 'mount' | 'upload';

export interface LoadPlan {
  dryRun: true;
  /** The target as given: `HOST[:PORT][/NAMESPACE]`. */
  registry: string;
  images: PlannedTag[];
  layers: PlannedLayer[];
  totals: PlanTotals;
  warnings: string[];
}

export interface PlannedTag {
  target: string;
  platforms: Array<{
    platform: string;
    archive: string;
    ref: string;
    configDigest: Digest;
    configSize: number;
    config: 'present' | 'upload';
  }>;
  /** What the tag holds now (its platforms are kept unless this run brings them), or null when it does not exist. */
  current: { digest: Digest; platforms: string[] } | null;
  /** With `archTags`: the `<tag>-<arch>` references a load would push. */
  archTags?: string[];
}

export interface PlannedLayer {
  /** The layer's diffID, or its blob digest when the archive stores it compressed. */
  key: Digest;
  archive: string;
  /** Bytes of the layer in the archive: the uncompressed tar, or the compressed blob. */
  archiveSize: number;
  /** The blob's digest and size, when known without compressing; null until then. */
  digest: Digest | null;
  size: number | null;
  status: BlobStatus;
  repositories: string[];
  presentIn: string[];
}

export interface PlanTotals {
  tags: number;
  /** Platform images (one manifest each). */
  images: number;
  layers: number;
  /** Bytes a load would send whose size is known: layers compressed before, and configs. */
  bytesToUpload: number;
  /** Bytes of layers and configs the registry already holds. */
  bytesPresent: number;
  /** Layers never compressed here: to upload, compressed size unknown until then. */
  layersOfUnknownSize: number;
  /** Their size in the archives. */
  bytesOfUnknownSize: number;
}

export function dryRun(options: LoadOptions): Promise<LoadPlan> {
  return withWorkDir((workDir) => dryRunIn(workDir, options));
}

async function dryRunIn(workDir: string, options: LoadOptions): Promise<LoadPlan> {
  const emit = options.onEvent ?? (() => {});
  const plan = await planLoad(options, workDir, emit);
  const client = await registryClient(options);
  const cache = await BlobInfoCache.open(cacheDirOf(options));
  const compression = compressionChoice(options.compression);
  const limit = limiter(options.concurrency ?? defaultLoadConcurrency);
  try {
    await client.ping();
    const layers = await Promise.all(
      [...plan.layers.values()].map((layer) => limit(() => plannedLayer(client, layer, knownDescriptor(layer, cache, compression)))),
    );
    const { messages, warn } = warningLog(emit);
    const images = await Promise.all(plan.tags.map((tag) => limit(() => plannedTag(client, tag, options, warn))));
    const warnings = [...plan.archives.flatMap((a) => a.warnings), ...messages];
    return { dryRun: true, registry: options.registry, images, layers, totals: totals(plan.tags, images, layers), warnings };
  } finally {
    await client.close();
  }
}

async function plannedLayer(
  client: RegistryClient,
  layer: LayerPlan,
  known: { digest: Digest; size: number } | undefined,
): Promise<PlannedLayer> {
  const presentIn = known ? await holders(client, layer.repositories, known) : [];
  const status: BlobStatus = presentIn.length === 0 ? 'upload' : presentIn.length === layer.repositories.length ? 'present' : 'mount';
  return {
    key: layer.key,
    archive: layer.archive,
    archiveSize: layer.source.size,
    digest: known?.digest ?? null,
    size: known?.size ?? null,
    status,
    repositories: layer.repositories,
    presentIn,
  };
}

async function holders(client: RegistryClient, repositories: string[], blob: { digest: Digest; size: number }): Promise<string[]> {
  const sizes = await Promise.all(repositories.map((repository) => client.blobSize(repository, blob.digest)));
  return repositories.filter((_, i) => sizes[i] === blob.size);
}

async function plannedTag(
  client: RegistryClient,
  tag: TagPlan,
  { archTags, replace }: Pick<LoadOptions, 'archTags' | 'replace'>,
  warn: (message: string) => void,
): Promise<PlannedTag> {
  const platforms = await Promise.all(
    tag.images.map(async (image) => {
      const { config } = image.source;
      const present = (await client.blobSize(tag.repository, config.digest)) === config.bytes.length;
      return {
        platform: image.platform,
        archive: image.source.archive,
        ref: formatReference(image.sourceRef),
        configDigest: config.digest,
        configSize: config.bytes.length,
        config: present ? ('present' as const) : ('upload' as const),
      };
    }),
  );
  const existing = await currentEntries(client, tag.repository, tag.target.tag!);
  // With --replace nothing of the index is kept, so nothing is left out unexpectedly.
  const warning = existing && !replace && unusableEntriesWarning(tag, existing);
  if (warning) warn(warning);
  const currentPlatforms = existing?.entries.map((e) => normalizePlatform(e.platform!)) ?? [];
  const planned: PlannedTag = {
    target: tag.targetName,
    platforms,
    current: existing ? { digest: existing.manifest.digest, platforms: currentPlatforms.map(formatPlatform) } : null,
  };
  if (archTags) {
    // The index a load would push: the platforms it keeps, then this run's.
    const ours = tag.images.map((image) => image.platform);
    const kept = currentPlatforms.filter((p) => !ours.includes(formatPlatform(p)));
    const indexPlatforms = [...kept, ...tag.images.map((image) => image.source.platform)];
    planned.archTags = archTagTargets(tag, indexPlatforms, ours.length).map(formatReference);
  }
  return planned;
}

function totals(tags: TagPlan[], images: PlannedTag[], layers: PlannedLayer[]): PlanTotals {
  // A config shared by two tags of one repository is sent once.
  const configs = new Map<string, { size: number; present: boolean }>();
  images.forEach((image, i) => {
    for (const p of image.platforms)
      configs.set(`${tags[i]!.repository}@${p.configDigest}`, { size: p.configSize, present: p.config === 'present' });
  });
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const known = layers.filter((l) => l.size !== null);
  const unknown = layers.filter((l) => l.size === null);
  const configBytes = (present: boolean) => sum([...configs.values()].filter((c) => c.present === present).map((c) => c.size));
  return {
    tags: images.length,
    images: sum(images.map((i) => i.platforms.length)),
    layers: layers.length,
    bytesToUpload: sum(known.filter((l) => l.status === 'upload').map((l) => l.size!)) + configBytes(false),
    bytesPresent: sum(known.filter((l) => l.status !== 'upload').map((l) => l.size!)) + configBytes(true),
    layersOfUnknownSize: unknown.length,
    bytesOfUnknownSize: sum(unknown.map((l) => l.archiveSize)),
  };
}
