/**
 * `load`: archives in, one verified multi-arch tag per image out. Plan (read every archive's
 * metadata, no writes), execute (layers, then per tag configs, manifests and index), verify.
 */
import { readArchives } from '../archive/inputs.js';
import { ScanCache } from '../archive/scan-cache.js';
import type { ManifestFormat } from '../oci/media-types.js';
import { layerKey } from '../archive/model.js';
import { withWorkDir } from '../workspace.js';
import { scanInWorker } from './archive-reader.js';
import { EarlySpools } from './early-spool.js';
import type { Scanner } from '../archive/scan.js';
import type { Platform } from '../oci/platform.js';
import { type Reference, parseTargetRegistry } from '../oci/reference.js';
import { RegistryClient } from '../registry/client.js';
import { type ConnectionSettings, resolveConnection } from '../registry/connection.js';
import { BlobInfoCache, defaultCacheDir } from './blob-cache.js';
import { type EventSink, type LoadEvent, type WarningLog, warningLog } from './events.js';
import { type CompressionChoice, defaultLevels } from './compress.js';
import { cacheKey, LayerOutcomes, publishLayers } from './layers.js';
import { limiter } from './limit.js';
import { buildPlan, type Failure, type Plan } from './plan.js';
import { checkPlatforms, declaredArchs, type PlatformSource } from './platform-check.js';
import { blobsAtTags } from './resume.js';
import { publishTag, type PublishedImage, tagLayers } from './tags.js';

export interface LoadOptions extends Omit<ConnectionSettings, 'onWarning'> {
  archives: string[];
  /** `HOST[:PORT][/NAMESPACE]` */
  registry: string;
  /** OCI manifests and index (default), or Docker schema2 manifests and manifest list. */
  format?: ManifestFormat;
  /** Architecture of some archives (`amd64`, `arm64`, `arm/v7`…) by path or file name, overriding what the file name says. */
  arch?: Record<string, string>;
  /** Whom to trust when an archive's architecture and an image's config disagree; by default such images are refused. */
  platformFrom?: PlatformSource;
  /** Overwrite existing tags instead of merging with the platforms they hold. */
  replace?: boolean;
  /** Stop at the first failure instead of loading the other images. */
  failFast?: boolean;
  /** Load only these images. */
  imageList?: Reference[];
  /** Load only the images of these platforms. */
  platforms?: Platform[];
  /** Also push `<tag>-<arch>` per-platform tags. */
  archTags?: boolean;
  /** Uploads and registry requests at once (default `defaultLoadConcurrency`). */
  concurrency?: number;
  /** How uncompressed layers are compressed (default gzip level 1); original blobs are never recompressed. */
  compression?: Partial<CompressionChoice>;
  /** Blob-info cache directory; null disables the cache. */
  cacheDir?: string | null;
  onEvent?: EventSink;
}

export interface LoadResult {
  images: PublishedImage[];
  /** What could not be loaded and why: tags, or archives that could not be read at all. */
  failures: Failure[];
  warnings: string[];
  bytesUploaded: number;
  durationMs: number;
}

/** Reads every archive's metadata and plans the run; writes nothing to the registry. */
export async function planLoad(
  options: LoadOptions,
  workDir: string,
  emit: EventSink = () => {},
  scan: Scanner = scanInWorker,
): Promise<Plan> {
  const target = parseTargetRegistry(options.registry);
  const declared = declaredArchs(options.archives, options.arch);
  emit({ type: 'phase', phase: 'reading' });
  const unreadable: Failure[] = [];
  const read = await readArchives(
    options.archives,
    workDir,
    {
      onRead: (bytes, total) => emit({ type: 'read', bytes, total }),
      onNotice: (message) => emit({ type: 'notice', message }),
      // An archive that cannot be read at all is a failure of its own; the others still load.
      onUnreadable: (err) => unreadable.push({ target: err.archive, message: err.reason }),
    },
    {
      cache: new ScanCache(cacheDirOf(options)),
      scan,
    },
  );
  const archives = read.map((archive) => checkPlatforms(archive, declared.get(archive.path), options.platformFrom));
  for (const archive of archives) {
    emit({
      type: 'archive',
      archive: archive.path,
      format: archive.format,
      compression: archive.compression,
      images: archive.images.length + archive.rejected.length,
    });
    for (const message of archive.warnings) emit({ type: 'warning', message });
  }
  emit({ type: 'phase', phase: 'planning' });
  const plan = buildPlan(archives, target, { imageList: options.imageList, platforms: options.platforms, unreadable });
  emit(planEvent(plan));
  for (const failure of plan.failures) emit({ type: 'failure', ...failure });
  return plan;
}

function planEvent(plan: Plan): LoadEvent {
  const tags = plan.tags.map((tag) => {
    const layers = [...new Set(tag.images.flatMap((image) => image.source.layers.map(layerKey)))];
    return {
      target: tag.targetName,
      platforms: tag.images.map((image) => image.platform),
      layers,
      bytes: layers.reduce((sum, key) => sum + plan.layers.get(key)!.source.size, 0),
    };
  });
  const bytes = [...plan.layers.values()].reduce((sum, layer) => sum + layer.source.size, 0);
  return { type: 'plan', tags, layers: plan.layers.size, bytes };
}

/** A client for the target registry; an unreadable CA or auth file fails here, before any archive is read. */
export async function registryClient(options: LoadOptions, onWarning?: (message: string) => void): Promise<RegistryClient> {
  return new RegistryClient(await resolveConnection(parseTargetRegistry(options.registry).host, { ...options, onWarning }));
}

/**
 * Six, as skopeo copies blobs (docker pushes five): on two cores the registry then takes a
 * kit's layers ~0.1–0.2 s sooner than with four (7 interleaved loads of the three real-like
 * archives each: the run's end after the last scan 2.74–2.78 s against 2.86–2.92 s on average).
 */
export const defaultLoadConcurrency = 6;

export function compressionChoice(asked: Partial<CompressionChoice> = {}): CompressionChoice {
  const algorithm = asked.algorithm ?? 'gzip';
  return { algorithm, level: asked.level ?? defaultLevels[algorithm] };
}

export const cacheDirOf = (options: LoadOptions): string | null => (options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir);

export function load(options: LoadOptions): Promise<LoadResult> {
  return withWorkDir((workDir) => loadIn(workDir, options));
}

async function loadIn(spoolDir: string, options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const warnings = warningLog(emit);
  // Before reading the archives, so that an unreadable CA or auth file stops the run at once.
  const client = await registryClient(options, warnings.warn);
  const filtered = Boolean(options.imageList?.length || options.platforms?.length);
  const cache = await BlobInfoCache.open(cacheDirOf(options));
  const compression = compressionChoice(options.compression);
  const early = await EarlySpools.open(spoolDir, compression, {
    filtered,
    onNotice: (message) => emit({ type: 'notice', message }),
    known: cache.diffIDs(cacheKey(compression)),
  });
  try {
    return await planAndPublish({ client, cache, early }, spoolDir, options, started, warnings);
  } finally {
    await early.discard();
    await client.close();
  }
}

async function planAndPublish(
  { client, cache, early }: { client: RegistryClient; cache: BlobInfoCache; early: EarlySpools },
  spoolDir: string,
  options: LoadOptions,
  started: number,
  { messages: runWarnings, warn }: WarningLog,
): Promise<LoadResult> {
  const emit = options.onEvent ?? (() => {});
  const planned = planLoad(options, spoolDir, emit, early.scanner(scanInWorker));
  client.prepare();
  const plan = await planned;
  const failures = [...plan.failures];
  const result = (images: PublishedImage[], bytesUploaded: number): LoadResult => ({
    images: images.sort((a, b) => a.target.localeCompare(b.target)),
    failures: failures.sort((a, b) => a.target.localeCompare(b.target)),
    warnings: [...plan.archives.flatMap((a) => a.warnings), ...runWarnings],
    bytesUploaded,
    durationMs: Date.now() - started,
  });
  if (plan.tags.length === 0 || (options.failFast && failures.length)) return result([], 0);
  let bytesUploaded = 0;
  await client.ping();
  emit({ type: 'phase', phase: 'uploading' });
  const placement = { client, emit, onUploaded: (n: number) => (bytesUploaded += n) };
  const concurrency = options.concurrency ?? defaultLoadConcurrency;
  const layers = new LayerOutcomes();
  const layersPublished = publishLayers(
    {
      ...placement,
      cache,
      known: await blobsAtTags(client, plan.tags, concurrency),
      concurrency,
      compression: compressionChoice(options.compression),
      spoolDir,
      early,
      onRead: (bytes, total) => emit({ type: 'read', bytes, total }),
    },
    plan.archives,
    plan.layers,
    layers,
  ).then(async () => {
    await cache.save().catch((err: Error) => warn(`cannot save the blob-info cache: ${err.message}`));
    emit({ type: 'phase', phase: 'verifying' });
  });
  const images: PublishedImage[] = [];
  const fail = (target: string, err: unknown) => {
    failures.push({ target, message: (err as Error).message });
    emit({ type: 'failure', target, message: (err as Error).message });
  };
  // With --fail-fast a bad layer stops the run before any tag is touched.
  if (options.failFast) {
    await layersPublished;
    for (const tag of plan.tags) {
      try {
        tagLayers(tag, layers);
      } catch (err) {
        fail(tag.targetName, err);
        break;
      }
    }
  }
  // Otherwise a tag goes as soon as its own layers are in place: its requests, mostly small
  // round trips, then overlap the uploads of the other tags' layers.
  const perTag = limiter(concurrency);
  await Promise.all(
    plan.tags.map(async (tag) => {
      const keys = tag.images.flatMap((image) => image.source.layers.map(layerKey));
      // (Or once publishing ends: a layer it left without an outcome then fails the tag, named.)
      await Promise.race([layers.settled(keys), layersPublished]);
      await perTag(async () => {
        if (options.failFast && failures.length) {
          if (!failures.some((f) => f.target === tag.targetName)) {
            fail(tag.targetName, new Error('not attempted: --fail-fast stopped the run at the first failure'));
          }
          return;
        }
        try {
          images.push(
            await publishTag(placement, tag, layers, {
              replace: options.replace,
              format: options.format,
              archTags: options.archTags,
              onWarning: warn,
            }),
          );
        } catch (err) {
          fail(tag.targetName, err);
        }
      });
    }),
  );
  await layersPublished;
  return result(images, bytesUploaded);
}
