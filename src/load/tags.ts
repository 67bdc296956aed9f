/**
 * Publishing one tag: a config and a manifest per platform (OCI, or Docker schema2 with
 * --format docker), each verified, then the index, merged with what the tag already holds
 * and pushed last, then read back.
 */
import type { Digest } from '../oci/digest.js';
import { type Descriptor, descriptorOf, type Document, imageIndex, imageManifest } from '../oci/manifest.js';
import { formatMediaTypes, type ManifestFormat, manifestFormatOf } from '../oci/media-types.js';
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

export async function publishTag(
  ctx: BlobPlacement,
  tag: TagPlan,
  layers: Map<Digest, LayerOutcome>,
  format: ManifestFormat = 'oci',
): Promise<PublishedImage> {
  const { client } = ctx;
  const types = formatMediaTypes[format];
  const children: Descriptor[] = [];
  for (const image of tag.images) {
    const { source } = image;
    const layerDescriptors = source.layers.map((layer): Descriptor => {
      const outcome = layers.get(layer.diffID);
      if (!outcome || 'error' in outcome) throw new TagError(outcome?.error ?? `layer ${layer.entry} was not published`);
      return { mediaType: types.layerGzip, ...outcome.blob };
    });
    const config = source.config;
    const read = (start: number, end: number) => config.bytes.subarray(start, end);
    await placeBlob(ctx, { kind: 'config', digest: config.digest, size: config.bytes.length, read }, [tag.repository]);
    const configDescriptor = { mediaType: types.config, digest: config.digest, size: config.bytes.length };
    const manifest = imageManifest(configDescriptor, layerDescriptors, format);
    await client.putManifest(tag.repository, manifest.digest, manifest);
    children.push(descriptorOf(manifest, source.platform));
  }
  const entries = [...sameFormat(tag, await keptEntries(ctx, tag, children), format), ...children];
  for (const entry of entries) {
    const check = await verifyImage(client, tag.repository, entry);
    if (check.problems.length) throw new TagError(`verification failed, tag left unchanged: ${check.problems.join('; ')}`);
  }
  const index = imageIndex(entries, format);
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

/** Kept entries must be of the run's family: an index never mixes OCI and Docker manifests. */
function sameFormat(tag: TagPlan, kept: Descriptor[], format: ManifestFormat): Descriptor[] {
  const foreign = kept.filter((entry) => manifestFormatOf(entry.mediaType) !== format);
  if (!foreign.length) return kept;
  const other = format === 'oci' ? 'docker' : 'oci';
  throw new TagError(
    `${tag.targetName} already holds ${foreign.map((e) => formatPlatform(e.platform!)).join(', ')} as ${other === 'oci' ? 'OCI' : 'Docker'} manifests, and an index never mixes OCI and Docker manifests: load with --format ${other} to add to them, or bring every platform of the tag in this run`,
  );
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
