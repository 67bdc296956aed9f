/**
 * Publishing one tag: a config and an OCI manifest per platform, each verified, then the
 * index, merged with what the tag already holds and pushed last, then read back.
 */
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

export interface PublishOptions {
  /** Overwrite the tag instead of keeping the entries it holds for platforms this run does not bring. */
  replace?: boolean;
}

export async function publishTag(
  ctx: BlobPlacement,
  tag: TagPlan,
  layers: Map<Digest, LayerOutcome>,
  options: PublishOptions = {},
): Promise<PublishedImage> {
  const { client } = ctx;
  // Every layer of every image first: an image with a bad layer gets no manifest pushed at all.
  const layerLists = tagLayers(tag, layers);
  const children: Descriptor[] = [];
  for (const [i, { source }] of tag.images.entries()) {
    const config = source.config;
    await placeBlob(ctx, { kind: 'config', digest: config.digest, size: config.bytes.length, open: () => config.bytes }, [tag.repository]);
    const manifest = imageManifest({ mediaType: MediaType.ociConfig, digest: config.digest, size: config.bytes.length }, layerLists[i]!);
    await client.putManifest(tag.repository, manifest.digest, manifest);
    children.push(descriptorOf(manifest, source.platform));
  }
  const kept = options.replace ? [] : await keptEntries(ctx, tag, children);
  for (const entry of [...kept, ...children]) {
    const check = await verifyImage(client, tag.repository, entry);
    if (!check.problems.length) continue;
    const hint = kept.includes(entry)
      ? `; the tag already held this ${formatPlatform(entry.platform!)} entry: pass --replace to overwrite the tag with this run's platforms only`
      : '';
    throw new TagError(`verification failed, tag left unchanged: ${check.problems.join('; ')}${hint}`);
  }
  // Sorted, so that loading the same platforms again gives the same index.
  const entries = [...kept, ...children].sort((a, b) => formatPlatform(a.platform!).localeCompare(formatPlatform(b.platform!)));
  const index = imageIndex(entries);
  await client.putManifest(tag.repository, tag.target.tag!, index);
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

/** The layer descriptors of each of the tag's images; throws, naming image and layer, when a layer failed. */
export function tagLayers(tag: TagPlan, layers: Map<Digest, LayerOutcome>): Descriptor[][] {
  return tag.images.map((image) =>
    image.source.layers.map((layer): Descriptor => {
      const outcome = layers.get(layer.diffID);
      if (!outcome || 'error' in outcome) {
        const why = outcome?.error ?? `layer ${layer.entry} was not published`;
        throw new TagError(`image ${formatReference(image.sourceRef)} (${image.platform}): ${why}`);
      }
      return { mediaType: MediaType.ociLayerGzip, ...outcome.blob };
    }),
  );
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
