/**
 * Planning a save: every image resolved in the source registry, its manifests and configs
 * read, and assigned to the bundles (one per architecture, or one for all). Every problem of
 * every image is gathered before any file is written: a kit missing an image is no kit.
 */
import { limiter } from '../load/limit.js';
import { configPlatform } from '../load/verify.js';
import { type Digest, isDigest, shortDigest } from '../oci/digest.js';
import { type Descriptor, type Document, descriptorOf } from '../oci/manifest.js';
import { bundleArchName, formatPlatform, type Platform } from '../oci/platform.js';
import type { Reference, TargetRegistry } from '../oci/reference.js';
import { describePlatforms, missingPlatforms, narrowIndex, platformKey, selectEntries } from '../oci/select.js';
import type { Manifest, RegistryClient } from '../registry/client.js';
import { fetchManifest, imageParts, type RemoteImage, resolveImage } from '../remote/image.js';
import type { SaveEvent } from './events.js';

export interface ChildImage {
  platform: string;
  manifest: Manifest;
  config: { descriptor: Descriptor; bytes: Buffer; diffIDs: Digest[] };
  layers: Descriptor[];
}

export interface BundleImage {
  /** The name the bundle records (`docker.io/rancher/mirrored-pause:3.6`). */
  name: Reference;
  /** Where the blobs are read in the source registry. */
  repository: string;
  /** What index.json lists: the image's one manifest here, or an index of its manifests here. */
  top: Descriptor;
  /** That index, when `top` is one: the upstream bytes when it keeps every platform. */
  index?: Document;
  /** The image's manifests in this bundle, in --platform order; the first is the one manifest.json names. */
  children: ChildImage[];
}

export interface BundlePlan {
  /** `PREFIX-<arch>` or `PREFIX`, without the extension. */
  stem: string;
  platforms: string[];
  images: BundleImage[];
}

/** The images cannot be saved as asked; the message lists every problem. */
export class SaveError extends Error {}

export interface PlanOptions {
  images: Reference[];
  platforms: Platform[];
  prefix: string;
  multiArch: boolean;
  /** The classic layout needs every layer's diff_id from the config. */
  legacy: boolean;
  concurrency: number;
}

interface ResolvedImage {
  image: RemoteImage;
  children: Map<Digest, ChildImage>;
}

export async function planBundles(
  client: RegistryClient,
  from: TargetRegistry,
  options: PlanOptions,
  emit: (event: SaveEvent) => void,
): Promise<BundlePlan[]> {
  const arches = groupByArch(options.platforms);
  const problems: string[] = [];
  const limit = limiter(options.concurrency);
  let done = 0;
  const resolved = await Promise.all(
    options.images.map((name) =>
      limit(async (): Promise<ResolvedImage | undefined> => {
        try {
          const image = await resolveImage(client, name, from);
          const kept = arches.map((platforms) => checkedSelection(image, platforms, emit));
          const entries = kept.flat();
          const read = await Promise.all(entries.map((entry) => readChild(client, image, entry, options.legacy)));
          const children = new Map(entries.map((entry, i) => [entry.digest, read[i]!]));
          emit({
            type: 'resolved',
            done: ++done,
            total: options.images.length,
            name: image.location,
            platforms: describePlatforms(entries),
          });
          return { image, children };
        } catch (err) {
          problems.push((err as Error).message);
          return undefined;
        }
      }),
    ),
  );
  if (problems.length) throw new SaveError(`nothing written: ${problems.length} image(s) cannot be saved:\n  ${problems.join('\n  ')}`);
  const groups = options.multiArch
    ? [{ stem: options.prefix, platforms: options.platforms }]
    : arches.map((platforms) => ({ stem: `${options.prefix}-${bundleArchName(platforms[0]!)}`, platforms }));
  return groups.map(({ stem, platforms }) => ({
    stem,
    platforms: platforms.map(platformKey),
    images: (resolved as ResolvedImage[]).map((r) => bundleImage(r, platforms, options.multiArch)),
  }));
}

/** The wanted platforms by bundle architecture (`arm` holds arm/v6 and arm/v7), in the order given. */
function groupByArch(platforms: Platform[]): Platform[][] {
  const groups = new Map<string, Platform[]>();
  for (const platform of platforms) {
    const arch = bundleArchName(platform);
    groups.set(arch, [...(groups.get(arch) ?? []), platform]);
  }
  return [...groups.values()];
}

/** The image's entries for one architecture's platforms; it must have at least one. */
function checkedSelection(image: RemoteImage, platforms: Platform[], emit: (event: SaveEvent) => void): Descriptor[] {
  const kept = selectEntries(image.entries, platforms);
  const asked = platforms.map(formatPlatform).join(' or ');
  if (kept.length === 0) {
    throw new SaveError(
      `${image.location} has no ${asked} image (it has ${describePlatforms(image.entries).join(', ') || 'no platforms'})`,
    );
  }
  const missing = missingPlatforms(kept, platforms);
  if (missing.length)
    emit({
      type: 'warning',
      message: `${image.location} has no ${missing.join(', ')} image; saving its ${describePlatforms(kept).join(', ')}`,
    });
  return kept;
}

async function readChild(client: RegistryClient, image: RemoteImage, entry: Descriptor, legacy: boolean): Promise<ChildImage> {
  const where = `${image.location}@${shortDigest(entry.digest)}`;
  const manifest = image.isIndex ? await fetchManifest(client, image.repository, entry) : image.top;
  const { config, layers } = imageParts(manifest, where);
  const bytes = image.config ?? (await client.getBlob(image.repository, config.digest));
  const declared = configPlatform(bytes);
  const platform = platformKey(entry.platform!);
  if (declared && platformKey(declared) !== platform) {
    throw new SaveError(`${where} is listed as ${platform} but its config says ${platformKey(declared)}: the upstream index is wrong`);
  }
  const diffIDs = diffIDsOf(bytes);
  if (legacy && diffIDs.length !== layers.length) {
    throw new SaveError(`${where} has ${layers.length} layers but ${diffIDs.length} diff_ids: it cannot be written in the --legacy layout`);
  }
  return { platform, manifest, config: { descriptor: config, bytes, diffIDs }, layers };
}

function diffIDsOf(config: Buffer): Digest[] {
  try {
    const ids = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
    return Array.isArray(ids) && ids.every(isDigest) ? ids : [];
  } catch {
    return [];
  }
}

/**
 * The image as one bundle holds it: the entries for its platforms, the first by --platform
 * order. A per-arch bundle lists a lone platform's manifest itself; a multi-arch one keeps the index.
 */
function bundleImage({ image, children }: ResolvedImage, platforms: Platform[], multiArch: boolean): BundleImage {
  const kept = selectEntries(image.entries, platforms);
  const order = platforms.map(platformKey);
  const rank = (entry: Descriptor) => order.indexOf(platformKey(entry.platform!));
  const ordered = [...kept].sort((a, b) => rank(a) - rank(b)).map((entry) => children.get(entry.digest)!);
  const base = { name: image.name, repository: image.repository, children: ordered };
  if (kept.length === 1 && !(multiArch && image.isIndex)) return { ...base, top: kept[0]! };
  const index = narrowIndex(image.top, kept);
  return { ...base, top: descriptorOf(index), index };
}
