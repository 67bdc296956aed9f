/**
 * Publishing one tag: a config and a manifest per platform, each verified, then the index,
 * pushed last and read back. Original manifests and upstream indexes from the archives are
 * pushed byte-for-byte, so their digests stay those of upstream; otherwise airlift builds a
 * manifest per image (OCI, or Docker schema2 with --format docker) and an index merged with
 * what the tag already holds. An index never mixes OCI and Docker manifests.
 */
import { layerKey, type SourceImage } from '../archive/model.js';
import type { Digest } from '../oci/digest.js';
import { type Descriptor, descriptorOf, type Document, imageIndex, imageManifest } from '../oci/manifest.js';
import { formatMediaTypes, layerTypeIn, type ManifestFormat, manifestFormatOf } from '../oci/media-types.js';
import { archTagNames, formatPlatform, normalizePlatform, type Platform } from '../oci/platform.js';
import { formatReference, type Reference } from '../oci/reference.js';
import { type BlobPlacement, placeBlob } from './blobs.js';
import type { LayerOutcomes } from './layers.js';
import type { TagPlan } from './plan.js';
import { currentEntries, indexEntries, readBackProblem, verifyImage } from './verify.js';

export interface PublishedImage {
  target: string;
  sources: Array<{ archive: string; ref: string; platform: string }>;
  indexDigest: Digest;
  platforms: Array<{ platform: string; manifestDigest: Digest; configDigest: Digest }>;
  /** With `archTags`: the `<tag>-<arch>` references pushed. */
  archTags?: string[];
}

export interface PublishOptions {
  /** Overwrite the tag instead of keeping the entries it holds for platforms this run does not bring. */
  replace?: boolean;
  /**
   * Family of the manifests airlift builds. By default that of the original manifests the
   * bundles bring, else of the entries the tag already holds, else OCI.
   */
  format?: ManifestFormat;
  /** Also tag each platform's manifest `<tag>-<arch>`, as the classic load scripts did. */
  archTags?: boolean;
  /** Told what the run does that the user may not expect (entries of the tag's index it cannot keep). */
  onWarning?: (message: string) => void;
}

export class TagError extends Error {}

export async function publishTag(
  ctx: BlobPlacement,
  tag: TagPlan,
  layers: LayerOutcomes,
  options: PublishOptions = {},
): Promise<PublishedImage> {
  // Every image of the tag must have all its layers before any of its manifests is pushed.
  const layerLists = tagLayers(tag, layers);
  // What the tag holds now: its entries for other platforms are kept, and its digest says whether the new index changes it.
  const held = options.replace ? undefined : await heldByTag(ctx, tag, options.onWarning);
  const others = held?.others ?? [];
  const format = tagFormat(tag, others, options.format);
  const manifests = tag.images.map(({ source }, i) => source.manifest ?? buildManifest(source, layerLists[i]!, format));
  // The tag's images one after another would cost a round trip per step and image.
  const children = await Promise.all(
    tag.images.map(async ({ source }, i) => {
      const manifest = manifests[i]!;
      const { config } = source;
      const read = (start: number, end: number) => config.bytes.subarray(start, end);
      await placeBlob(ctx, { kind: 'config', digest: config.digest, size: config.bytes.length, read }, [tag.repository]);
      await ctx.client.pushManifest(tag.repository, manifest.digest, manifest);
      return descriptorOf(manifest, source.platform);
    }),
  );
  const upstream = completeUpstreamIndex(tag, children);
  const kept = upstream ? [] : sameFormat(tag, others, format);
  const verified = [...kept, ...children];
  const checks = await Promise.all(verified.map((entry) => verifyImage(ctx.client, tag.repository, entry)));
  const failed = checks.findIndex((check) => check.problems.length > 0);
  if (failed >= 0) {
    const entry = verified[failed]!;
    const hint = kept.includes(entry)
      ? `; the tag already held this ${formatPlatform(entry.platform!)} entry: pass --replace to overwrite the tag with this run's platforms only`
      : '';
    throw new TagError(`verification failed, tag left unchanged: ${checks[failed]!.problems.join('; ')}${hint}`);
  }
  // Sorted, so that loading the same platforms again gives the same index.
  const entries = upstream
    ? children
    : [...kept, ...children].sort((a, b) => formatPlatform(a.platform!).localeCompare(formatPlatform(b.platform!)));
  // Named before the index is pushed, so that a naming conflict leaves the tag unchanged.
  const indexPlatforms = entries.map((e) => e.platform!);
  const archTargets = options.archTags ? archTagTargets(tag, indexPlatforms, manifests.length) : undefined;
  const index = upstream ?? imageIndex(entries, format);
  // The read above says what the tag names now; with --replace, which read nothing, a HEAD does.
  const current = held ? held.digest : await ctx.client.manifestDigest(tag.repository, tag.target.tag!);
  if (current !== index.digest) await ctx.client.putManifest(tag.repository, tag.target.tag!, index);
  await readBack(ctx, tag, index);
  // After the index, so that a per-arch tag never names a manifest the index lacks.
  for (const [i, target] of (archTargets ?? []).entries()) await ctx.client.pushManifest(tag.repository, target.tag!, manifests[i]!);
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

/** The layers of each of the tag's images as published; a layer that failed throws, naming image and layer. */
export function tagLayers(tag: TagPlan, layers: LayerOutcomes): Descriptor[][] {
  return tag.images.map((image) =>
    image.source.layers.map((layer) => {
      const outcome = layers.get(layerKey(layer));
      if (!outcome || 'error' in outcome) {
        const why = outcome?.error ?? `layer ${layer.entry} was not published`;
        throw new TagError(`image ${formatReference(image.sourceRef)} (${image.platform}): ${why}`);
      }
      return outcome.descriptor;
    }),
  );
}

/**
 * The family of the tag's manifests: that of the original manifests the archives bring (so
 * their digests are kept), else the one asked for, else that of the entries the tag keeps
 * (so that adding a platform to a Docker manifest list works without flags), else OCI.
 */
function tagFormat(tag: TagPlan, kept: Descriptor[], requested?: ManifestFormat): ManifestFormat {
  const originals = new Set(tag.images.flatMap(({ source }) => (source.manifest ? [manifestFormatOf(source.manifest.mediaType)!] : [])));
  if (originals.size > 1) {
    throw new TagError(
      `the bundles bring both OCI and Docker manifests for ${tag.targetName}, and an index never mixes them: load the platforms of one family in a separate run under another tag`,
    );
  }
  const existing = new Set(kept.map((entry) => manifestFormatOf(entry.mediaType)));
  const [held] = existing.size === 1 ? existing : [];
  return [...originals][0] ?? requested ?? held ?? 'oci';
}

/** A manifest over the published layers, for images the archive has no original manifest of. */
function buildManifest(source: SourceImage, layerDescriptors: Descriptor[], format: ManifestFormat): Document {
  const layers = layerDescriptors.map((layer) => {
    const mediaType = layerTypeIn(format, layer.mediaType);
    if (!mediaType)
      throw new TagError(`layer ${layer.digest} is ${layer.mediaType}, which Docker manifests cannot name: load with --format oci`);
    return { ...layer, mediaType };
  });
  const config = { mediaType: formatMediaTypes[format].config, digest: source.config.digest, size: source.config.bytes.length };
  return imageManifest(config, layers, format);
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
 * What the tag holds now: its digest (none when the tag does not exist), and its entries for
 * platforms this run does not bring, so that loading amd64 today and arm64 tomorrow ends with both.
 */
async function heldByTag(
  ctx: BlobPlacement,
  tag: TagPlan,
  onWarning?: (message: string) => void,
): Promise<{ digest?: Digest; others: Descriptor[] }> {
  const existing = await currentEntries(ctx.client, tag.repository, tag.target.tag!);
  if (!existing) return { others: [] };
  const warning = unusableEntriesWarning(tag, existing);
  if (warning) onWarning?.(warning);
  const ourPlatforms = new Set(tag.images.map((image) => image.platform));
  const others = existing.entries.filter((entry) => !ourPlatforms.has(formatPlatform(normalizePlatform(entry.platform!))));
  return { digest: existing.manifest.digest, others };
}

/** What a load (and its dry run) says when the index the tag holds has entries it cannot keep. */
export function unusableEntriesWarning(
  tag: TagPlan,
  { entries, unusable }: { entries: Descriptor[]; unusable: number },
): string | undefined {
  if (unusable === 0) return undefined;
  return `${tag.targetName}: ${unusable} of the ${entries.length + unusable} entries of the index it holds name no platform or are not descriptors; the new index leaves them out`;
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

async function readBack(ctx: BlobPlacement, tag: TagPlan, index: Document): Promise<void> {
  const problem = await readBackProblem(ctx.client, tag.repository, tag.target.tag!, index.digest, tag.targetName);
  if (problem) throw new TagError(problem);
}
