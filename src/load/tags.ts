/**
 * Publishing one tag: a config and a manifest per platform, each verified, then the index,
 * pushed last and read back. Original manifests and upstream indexes from the archives are
 * pushed byte-for-byte, so their digests stay those of upstream; otherwise airlift builds
 * an OCI manifest per image and an index merged with what the tag already holds.
 */
import { layerKey, type SourceImage } from '../archive/model.js';
import type { Digest } from '../oci/digest.js';
import { type Descriptor, descriptorOf, type Document, imageIndex, imageManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { archTagNames, formatPlatform, normalizePlatform, type Platform } from '../oci/platform.js';
import { formatReference, type Reference } from '../oci/reference.js';
import { type BlobPlacement, placeBlob } from './blobs.js';
import type { LayerOutcome } from './layers.js';
import type { TagPlan } from './plan.js';
import { currentEntries, indexEntries, verifyImage } from './verify.js';

export interface PublishedImage {
  target: string;
  sources: Array<{ archive: string; ref: string; platform: string }>;
  indexDigest: Digest;
  platforms: Array<{ platform: string; manifestDigest: Digest; configDigest: Digest }>;
  /** With `archTags`: the `<tag>-<arch>` references pushed. */
  archTags?: string[];
}

export interface PublishOptions {
  /** Also tag each platform's manifest `<tag>-<arch>`, as the classic load scripts did. */
  archTags?: boolean;
}

export class TagError extends Error {}

export async function publishTag(
  ctx: BlobPlacement,
  tag: TagPlan,
  layers: Map<Digest, LayerOutcome>,
  options: PublishOptions = {},
): Promise<PublishedImage> {
  // Every image of the tag must have all its layers before any of its manifests is pushed.
  const manifests = tag.images.map(({ source }) => {
    const layerDescriptors = publishedLayers(source, layers);
    return source.manifest ?? buildManifest(source, layerDescriptors);
  });
  const children: Descriptor[] = [];
  for (const [i, { source }] of tag.images.entries()) {
    const manifest = manifests[i]!;
    const { config } = source;
    await placeBlob(ctx, { kind: 'config', digest: config.digest, size: config.bytes.length, open: () => config.bytes }, [tag.repository]);
    await ctx.client.putManifest(tag.repository, manifest.digest, manifest);
    children.push(descriptorOf(manifest, source.platform));
  }
  const upstream = completeUpstreamIndex(tag, children);
  const entries = upstream ? children : [...(await keptEntries(ctx, tag, children)), ...children];
  for (const entry of entries) {
    const check = await verifyImage(ctx.client, tag.repository, entry);
    if (check.problems.length) throw new TagError(`verification failed, tag left unchanged: ${check.problems.join('; ')}`);
  }
  // Named before the index is pushed, so that a naming conflict leaves the tag unchanged.
  const indexPlatforms = entries.map((e) => e.platform!);
  const archTargets = options.archTags ? archTagTargets(tag, indexPlatforms, manifests.length) : undefined;
  const index = upstream ?? imageIndex(entries);
  await ctx.client.putManifest(tag.repository, tag.target.tag!, index);
  await readBack(ctx, tag, index);
  // After the index, so that a per-arch tag never names a manifest the index lacks.
  for (const [i, target] of (archTargets ?? []).entries()) await ctx.client.putManifest(tag.repository, target.tag!, manifests[i]!);
  ctx.emit({ type: 'tag', target: tag.targetName, digest: index.digest, platforms: entries.map((e) => formatPlatform(e.platform!)) });
  return {
    target: tag.targetName,
    sources: tag.images.map((image) => ({
      archive: image.source.archive,
      ref: formatReference(image.sourceRef),
      platform: image.platform,
    })),
    indexDigest: index.digest,
    platforms: tag.images.map((image, i) => ({
      platform: image.platform,
      manifestDigest: children[i]!.digest,
      configDigest: image.source.config.digest,
    })),
    ...(archTargets ? { archTags: archTargets.map(formatReference) } : {}),
  };
}

/** The image's layers as published; a layer that failed fails the image before anything of it is pushed. */
function publishedLayers(source: SourceImage, layers: Map<Digest, LayerOutcome>): Descriptor[] {
  return source.layers.map((layer) => {
    const outcome = layers.get(layerKey(layer));
    if (!outcome || 'error' in outcome) throw new TagError(outcome?.error ?? `layer ${layer.entry} was not published`);
    return outcome.descriptor;
  });
}

/** An OCI manifest over the published layers, for images the archive has no original manifest of. */
function buildManifest(source: SourceImage, layerDescriptors: Descriptor[]): Document {
  const config = { mediaType: MediaType.ociConfig, digest: source.config.digest, size: source.config.bytes.length };
  return imageManifest(config, layerDescriptors);
}

/**
 * The upstream index the images came from, when this run pushes every one of its children:
 * pushing it unchanged keeps the tag's digest equal to upstream's. Never pushed otherwise,
 * as an index with a missing child would break pulls of that platform.
 */
function completeUpstreamIndex(tag: TagPlan, children: Descriptor[]): Document | undefined {
  const upstreams = new Map(
    tag.images.flatMap(({ source }) => (source.upstreamIndex ? [[source.upstreamIndex.digest, source.upstreamIndex]] : [])),
  );
  if (upstreams.size !== 1) return undefined;
  const [upstream] = upstreams.values();
  const listed = indexEntries(upstream!.bytes, upstream!.mediaType) ?? [];
  const pushed = new Set(children.map((child) => child.digest));
  return listed.length === children.length && listed.every((entry) => pushed.has(entry.digest)) ? upstream : undefined;
}

/**
 * `<tag>-<arch>` for the last `count` platforms of the index (this run's), named from all of
 * them so that a later run adding arm/v6 next to arm/v7 keeps `-arm` on v7.
 */
export function archTagTargets(tag: TagPlan, indexPlatforms: Platform[], count: number): Reference[] {
  return archTagNames(indexPlatforms)
    .slice(indexPlatforms.length - count)
    .map((name) => ({ ...tag.target, tag: `${tag.target.tag!}-${name}` }));
}

/**
 * Entries of what the tag holds now for platforms this run does not bring, so that loading
 * amd64 today and arm64 tomorrow ends with both.
 */
async function keptEntries(ctx: BlobPlacement, tag: TagPlan, ours: Descriptor[]): Promise<Descriptor[]> {
  const existing = await currentEntries(ctx.client, tag.repository, tag.target.tag!);
  if (!existing) return [];
  const ourPlatforms = new Set(ours.map((d) => formatPlatform(d.platform!)));
  return existing.entries.filter((entry) => entry.platform && !ourPlatforms.has(formatPlatform(normalizePlatform(entry.platform))));
}

async function readBack(ctx: BlobPlacement, tag: TagPlan, index: Document): Promise<void> {
  const stored = await ctx.client.getManifest(tag.repository, tag.target.tag!);
  if (stored?.digest !== index.digest) {
    throw new TagError(
      `the registry returned ${stored ? `digest ${stored.digest}` : 'nothing'} for ${tag.targetName} right after it was pushed as ${index.digest}`,
    );
  }
}
