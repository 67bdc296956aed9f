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
import { formatPlatform, normalizePlatform } from '../oci/platform.js';
import { formatReference } from '../oci/reference.js';
import { type BlobPlacement, placeBlob } from './blobs.js';
import type { LayerOutcome } from './layers.js';
import type { TagPlan } from './plan.js';
import { configPlatform, indexEntries, verifyImage } from './verify.js';

export interface PublishedImage {
  target: string;
  sources: Array<{ archive: string; ref: string; platform: string }>;
  indexDigest: Digest;
  platforms: Array<{ platform: string; manifestDigest: Digest; configDigest: Digest }>;
}

export class TagError extends Error {}

export async function publishTag(ctx: BlobPlacement, tag: TagPlan, layers: Map<Digest, LayerOutcome>): Promise<PublishedImage> {
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
  const index = upstream ?? imageIndex(entries);
  await ctx.client.putManifest(tag.repository, tag.target.tag!, index);
  await readBack(ctx, tag, index);
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
 * Entries of what the tag holds now for platforms this run does not bring, so that loading
 * amd64 today and arm64 tomorrow ends with both.
 */
async function keptEntries(ctx: BlobPlacement, tag: TagPlan, ours: Descriptor[]): Promise<Descriptor[]> {
  const existing = await ctx.client.getManifest(tag.repository, tag.target.tag!);
  if (!existing) return [];
  const ourPlatforms = new Set(ours.map((d) => formatPlatform(d.platform!)));
  const entries = indexEntries(existing.bytes, existing.mediaType) ?? (await asEntry(ctx, tag.repository, existing));
  return entries.filter((entry) => entry.platform && !ourPlatforms.has(formatPlatform(normalizePlatform(entry.platform))));
}

/** A single-manifest tag as an index entry, with the platform its config declares. */
async function asEntry(ctx: BlobPlacement, repository: string, manifest: Document): Promise<Descriptor[]> {
  const parsed = JSON.parse(manifest.bytes.toString('utf8')) as { config?: { digest?: Digest } };
  if (!parsed.config?.digest) return [];
  const platform = configPlatform(await ctx.client.getBlob(repository, parsed.config.digest));
  return platform ? [descriptorOf(manifest, platform)] : [];
}

async function readBack(ctx: BlobPlacement, tag: TagPlan, index: Document): Promise<void> {
  const stored = await ctx.client.getManifest(tag.repository, tag.target.tag!);
  if (stored?.digest !== index.digest) {
    throw new TagError(
      `the registry returned ${stored ? `digest ${stored.digest}` : 'nothing'} for ${tag.targetName} right after it was pushed as ${index.digest}`,
    );
  }
}
