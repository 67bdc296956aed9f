/**
 * `sync`: images from one registry into another, all platforms or a subset. Per image: the
 * selected platforms' manifests and blobs are copied (HEAD skip, cross-repository mount,
 * streamed uploads), each verified in the target, then the index is pushed last — unchanged
 * when every platform is kept (its digest preserved), else a new index of the kept entries.
 */
import { type LoadEvent, warningLog } from '../load/events.js';
import { limiter } from '../load/limit.js';
import { indexEntries, readBackProblem, verifyImage } from '../load/verify.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { isManifestType } from '../oci/media-types.js';
import type { Platform } from '../oci/platform.js';
import { formatReference, parseTargetRegistry, type Reference, type TargetRegistry, targetReference } from '../oci/reference.js';
import { describePlatforms, missingPlatforms, narrowIndex, platformKey, selectEntries } from '../oci/select.js';
import type { Manifest, RegistryClient } from '../registry/client.js';
import type { ConnectionSettings } from '../registry/connection.js';
import { connect } from '../remote/connect.js';
import { fetchManifest, imageParts, resolveImage } from '../remote/image.js';
import { BlobCopier } from './blobs.js';
import type { SyncEvent } from './events.js';

export interface SyncOptions {
  /** Source registry: `HOST[:PORT][/NAMESPACE]`; images are read at NAMESPACE/<repository>. */
  from: string;
  /** Target registry: `HOST[:PORT][/NAMESPACE]`; names map as for `load`. */
  to: string;
  source?: ConnectionSettings;
  destination?: ConnectionSettings;
  images: Reference[];
  /** Copy only these platforms; all when absent or empty. */
  platforms?: Platform[];
  concurrency?: number;
  onEvent?: (event: SyncEvent) => void;
}

export interface SyncedImage {
  /** The image as read: `source-registry/repository:tag`. */
  source: string;
  target: string;
  sourceDigest: Digest;
  /** What the target tag now points at: `sourceDigest` unless platforms were dropped. */
  digest: Digest;
  platforms: Array<{ platform: string; manifestDigest: Digest }>;
}

export interface SyncResult {
  images: SyncedImage[];
  failures: Array<{ target: string; message: string }>;
  warnings: string[];
  /** Blob bytes actually uploaded (skipped and mounted blobs cost none). */
  bytesCopied: number;
  durationMs: number;
}

/** A sync that cannot start, or an image that cannot be synced as asked. */
export class SyncError extends Error {}

interface SyncContext {
  source: RegistryClient;
  dest: RegistryClient;
  from: TargetRegistry;
  blobs: BlobCopier;
  platforms?: Platform[];
  warn: (message: string) => void;
}

export async function sync(options: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const from = parseTargetRegistry(options.from, '--from');
  const to = parseTargetRegistry(options.to, '--to');
  const jobs = planTargets(options.images, to);
  const concurrency = options.concurrency ?? 4;
  const { messages: warnings, warn } = warningLog(emit);
  const source = await connect(from, { flags: { registry: '--from', prefix: 'src-' }, ...options.source });
  const dest = await connect(to, { flags: { registry: '--to', prefix: 'dest-' }, ...options.destination, onWarning: warn });
  let bytesCopied = 0;
  try {
    await Promise.all([source.ping(), dest.ping()]);
    const placement = {
      client: dest,
      emit: (event: LoadEvent) => event.type === 'blob' && emit(event),
      onUploaded: (n: number) => (bytesCopied += n),
    };
    const ctx: SyncContext = {
      source,
      dest,
      from,
      blobs: new BlobCopier(placement, source, limiter(concurrency)),
      platforms: options.platforms,
      warn,
    };
    const images: SyncedImage[] = [];
    const failures: SyncResult['failures'] = [];
    const perImage = limiter(concurrency);
    let done = 0;
    await Promise.all(
      jobs.map(({ name, target }) =>
        perImage(async () => {
          try {
            const image = await syncImage(ctx, name, target);
            images.push(image);
            emit({ type: 'synced', done: ++done, total: jobs.length, image });
          } catch (err) {
            const failure = { target: formatReference(target), message: (err as Error).message };
            failures.push(failure);
            emit({ type: 'failure', done: ++done, total: jobs.length, ...failure });
          }
        }),
      ),
    );
    images.sort((a, b) => a.target.localeCompare(b.target));
    return { images, failures, warnings, bytesCopied, durationMs: Date.now() - started };
  } finally {
    await Promise.all([source.close(), dest.close()]);
  }
}

/** Each image once, with its target; two sources claiming one target stop the run before any write. */
function planTargets(images: Reference[], to: TargetRegistry): Array<{ name: Reference; target: Reference }> {
  const byTarget = new Map<string, { name: Reference; target: Reference }>();
  for (const name of images) {
    const target = targetReference(name, to);
    const key = formatReference(target);
    const other = byTarget.get(key);
    if (other && formatReference(other.name) !== formatReference(name)) {
      throw new SyncError(
        `${formatReference(other.name)} and ${formatReference(name)} would both go to ${key}: sync them in separate runs with different --to namespaces`,
      );
    }
    byTarget.set(key, { name, target });
  }
  if (byTarget.size === 0) throw new SyncError('no images to sync: name them, or pass --image-list');
  return [...byTarget.values()];
}

async function syncImage(ctx: SyncContext, name: Reference, target: Reference): Promise<SyncedImage> {
  const image = await resolveImage(ctx.source, name, ctx.from);
  const kept = selectEntries(image.entries, ctx.platforms);
  const available = describePlatforms(image.entries).join(', ') || 'no platforms';
  if (kept.length === 0) throw new SyncError(`${image.location} has none of the requested platforms (it has ${available})`);
  const missing = ctx.platforms?.length ? missingPlatforms(kept, ctx.platforms) : [];
  if (missing.length) ctx.warn(`${image.location} has no ${missing.join(', ')} image (it has ${available}); syncing the others`);

  // A single-manifest image is its own only entry, already read.
  const known = image.isIndex ? undefined : image.top;
  await Promise.all(kept.map((entry) => copyManifest(ctx, image.repository, target.repository, entry, known)));
  const problems: string[] = [];
  for (const entry of kept.filter((e) => isManifestType(e.mediaType))) {
    problems.push(...(await verifyImage(ctx.dest, target.repository, entry)).problems);
  }
  if (problems.length) throw new SyncError(`verification failed, tag left unchanged: ${problems.join('; ')}`);

  const top = image.isIndex ? narrowIndex(image.top, kept) : image.top;
  const reference = target.tag ?? top.digest;
  await ctx.dest.pushManifest(target.repository, reference, top);
  const targetName = formatReference(target.tag ? { ...target, digest: undefined } : { ...target, digest: top.digest });
  const problem = await readBackProblem(ctx.dest, target.repository, reference, top.digest, targetName);
  if (problem) throw new SyncError(problem);
  return {
    source: image.location,
    target: targetName,
    sourceDigest: image.top.digest,
    digest: top.digest,
    platforms: kept.flatMap((entry) => (entry.platform ? [{ platform: platformKey(entry.platform), manifestDigest: entry.digest }] : [])),
  };
}

/**
 * Copies one manifest and everything under it (an index's children first), then pushes it by
 * digest. One the target already has is skipped whole: a registry accepts a manifest only
 * once it holds everything the manifest references (and verification reads it all back).
 */
async function copyManifest(ctx: SyncContext, from: string, to: string, entry: Descriptor, known?: Manifest): Promise<void> {
  if ((await ctx.dest.getManifest(to, entry.digest))?.digest === entry.digest) return;
  const manifest = known ?? (await fetchManifest(ctx.source, from, entry));
  const children = indexEntries(manifest.bytes, manifest.mediaType);
  if (children) {
    await Promise.all(children.map((child) => copyManifest(ctx, from, to, child)));
  } else {
    const { config, layers } = imageParts(manifest, `${ctx.source.host}/${from}@${entry.digest}`);
    await Promise.all([ctx.blobs.copy(config, 'config', from, to), ...layers.map((layer) => ctx.blobs.copy(layer, 'layer', from, to))]);
  }
  await ctx.dest.putManifest(to, entry.digest, manifest);
}
