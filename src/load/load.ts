/**
 * `load`: archives in, one verified multi-arch tag per image out. Plan (read every archive's
 * metadata, no writes), execute (layers, then per tag configs, manifests and index), verify.
 */
import { readArchives } from '../archive/inputs.js';
import { ScanCache } from '../archive/scan-cache.js';
import type { ManifestFormat } from '../oci/media-types.js';
import { withWorkDir } from './workspace.js';
import { type Reference, parseTargetRegistry } from '../oci/reference.js';
import { RegistryClient } from '../registry/client.js';
import { type ConnectionSettings, resolveConnection } from '../registry/connection.js';
import { BlobInfoCache, defaultCacheDir } from './blob-cache.js';
import type { EventSink } from './events.js';
import { type CompressionChoice, defaultLevels } from './compress.js';
import { publishLayers } from './layers.js';
import { limiter } from './limit.js';
import { buildPlan, type Plan } from './plan.js';
import { blobsAtTags } from './resume.js';
import { publishTag, type PublishedImage } from './tags.js';

export interface LoadOptions extends Omit<ConnectionSettings, 'onWarning'> {
  archives: string[];
  /** `HOST[:PORT][/NAMESPACE]` */
  registry: string;
  /** OCI manifests and index (default), or Docker schema2 manifests and manifest list. */
  format?: ManifestFormat;
  /** Load only these images. */
  imageList?: Reference[];
  concurrency?: number;
  /** How uncompressed layers are compressed (default gzip level 1); original blobs are never recompressed. */
  compression?: Partial<CompressionChoice>;
  /** Blob-info cache directory; null disables the cache. */
  cacheDir?: string | null;
  onEvent?: EventSink;
}

export interface LoadResult {
  images: PublishedImage[];
  failures: Array<{ target: string; message: string }>;
  warnings: string[];
  bytesUploaded: number;
  durationMs: number;
}

/** Reads every archive's metadata and plans the run; writes nothing to the registry. */
export async function planLoad(options: LoadOptions, workDir: string, emit: EventSink = () => {}): Promise<Plan> {
  const target = parseTargetRegistry(options.registry);
  emit({ type: 'phase', phase: 'reading' });
  const archives = await readArchives(
    options.archives,
    workDir,
    {
      onRead: (bytes, total) => emit({ type: 'read', bytes, total }),
      onNotice: (message) => emit({ type: 'notice', message }),
    },
    new ScanCache(cacheDirOf(options)),
  );
  for (const archive of archives) {
    emit({
      type: 'archive',
      archive: archive.path,
      format: archive.format,
      compression: archive.compression,
      images: archive.images.length,
    });
    for (const message of archive.warnings) emit({ type: 'warning', message });
  }
  emit({ type: 'phase', phase: 'planning' });
  return buildPlan(archives, target, options.imageList);
}

function compressionChoice(asked: Partial<CompressionChoice> = {}): CompressionChoice {
  const algorithm = asked.algorithm ?? 'gzip';
  return { algorithm, level: asked.level ?? defaultLevels[algorithm] };
}

const cacheDirOf = (options: LoadOptions): string | null => (options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir);

export function load(options: LoadOptions): Promise<LoadResult> {
  return withWorkDir((workDir) => loadIn(workDir, options));
}

async function loadIn(spoolDir: string, options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const registryWarnings: string[] = [];
  const onWarning = (message: string) => {
    registryWarnings.push(message);
    emit({ type: 'warning', message });
  };
  // Before reading the archives, so that an unreadable CA or auth file stops the run at once.
  const connection = await resolveConnection(parseTargetRegistry(options.registry).host, { ...options, onWarning });
  const plan = await planLoad(options, spoolDir, emit);
  const client = new RegistryClient(connection);
  const cache = await BlobInfoCache.open(cacheDirOf(options));
  let bytesUploaded = 0;
  try {
    await client.ping();
    emit({ type: 'phase', phase: 'uploading' });
    const placement = { client, emit, onUploaded: (n: number) => (bytesUploaded += n) };
    const concurrency = options.concurrency ?? 4;
    const readTotal = plan.archives.reduce((sum, a) => sum + a.fileSize, 0);
    let read = 0;
    const layers = await publishLayers(
      {
        ...placement,
        cache,
        known: await blobsAtTags(client, plan.tags, concurrency),
        concurrency,
        compression: compressionChoice(options.compression),
        spoolDir,
        onRawBytes: (n) => emit({ type: 'read', bytes: (read += n), total: readTotal }),
      },
      plan.archives,
      plan.layers,
    );
    await cache.save().catch((err: Error) => emit({ type: 'warning', message: `cannot save the blob-info cache: ${err.message}` }));
    emit({ type: 'phase', phase: 'verifying' });
    const images: PublishedImage[] = [];
    const failures: LoadResult['failures'] = [];
    const perTag = limiter(concurrency);
    await Promise.all(
      plan.tags.map((tag) =>
        perTag(async () => {
          try {
            images.push(await publishTag(placement, tag, layers, options.format));
          } catch (err) {
            failures.push({ target: tag.targetName, message: (err as Error).message });
            emit({ type: 'failure', target: tag.targetName, message: (err as Error).message });
          }
        }),
      ),
    );
    images.sort((a, b) => a.target.localeCompare(b.target));
    const warnings = [...plan.archives.flatMap((a) => a.warnings), ...registryWarnings];
    return { images, failures, warnings, bytesUploaded, durationMs: Date.now() - started };
  } finally {
    await client.close();
  }
}
