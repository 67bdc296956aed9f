/**
 * Reading back what a registry holds under a manifest: the manifest's bytes match its
 * digest, the config exists and names the platform the index claims, every layer exists
 * with the right size. Used after every push and by `airlift verify`.
 */
import { type Digest, isDigest, sha256, shortDigest } from '../oci/digest.js';
import { type Descriptor, descriptorOf } from '../oci/manifest.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import { formatPlatform, normalizePlatform, type Platform } from '../oci/platform.js';
import type { Manifest, RegistryClient } from '../registry/client.js';

export interface ImageCheck {
  problems: string[];
  /** The platform the image's config declares, when the config could be read. */
  configPlatform?: Platform;
  configDigest?: Digest;
}

/** Checks one image manifest (a child of an index) and everything it references. */
export async function verifyImage(client: RegistryClient, repository: string, descriptor: Descriptor): Promise<ImageCheck> {
  const where = `${repository}@${shortDigest(descriptor.digest)}`;
  const manifest = await client.getManifest(repository, descriptor.digest);
  if (!manifest) return { problems: [`manifest ${where} is missing`] };
  const problems: string[] = [];
  if (manifest.digest !== descriptor.digest) problems.push(`manifest ${where} has digest ${manifest.digest}`);
  if (manifest.bytes.length !== descriptor.size)
    problems.push(`manifest ${where} is ${manifest.bytes.length} bytes, the index says ${descriptor.size}`);
  const parsed = parseJson(manifest.bytes) as { mediaType?: string; config?: Descriptor; layers?: Descriptor[] } | undefined;
  if (!parsed || !isDescriptor(parsed.config) || !Array.isArray(parsed.layers) || !parsed.layers.every(isDescriptor)) {
    return { problems: [...problems, `manifest ${where} is not an image manifest`] };
  }
  if (!isManifestType(parsed.mediaType ?? manifest.mediaType))
    problems.push(`manifest ${where} has media type ${parsed.mediaType ?? manifest.mediaType}`);
  const check: ImageCheck = { problems, configDigest: parsed.config.digest };
  const [config, sizes] = await Promise.all([
    client.getBlob(repository, parsed.config.digest).catch(() => undefined),
    Promise.all(parsed.layers.map((layer) => client.blobSize(repository, layer.digest))),
  ]);
  if (!config) {
    problems.push(`config ${shortDigest(parsed.config.digest)} of ${where} is missing`);
  } else if (sha256(config) !== parsed.config.digest || config.length !== parsed.config.size) {
    problems.push(`config ${shortDigest(parsed.config.digest)} of ${where} does not match its digest or size`);
  } else {
    check.configPlatform = configPlatform(config);
    if (
      descriptor.platform &&
      check.configPlatform &&
      formatPlatform(check.configPlatform) !== formatPlatform(normalizePlatform(descriptor.platform))
    ) {
      problems.push(
        `${where} is listed as ${formatPlatform(descriptor.platform)} but its config says ${formatPlatform(check.configPlatform)}`,
      );
    }
  }
  parsed.layers.forEach((layer, i) => {
    if (sizes[i] === undefined) problems.push(`layer ${shortDigest(layer.digest)} of ${where} is missing`);
    else if (sizes[i] !== layer.size)
      problems.push(`layer ${shortDigest(layer.digest)} of ${where} is ${sizes[i]} bytes, the manifest says ${layer.size}`);
  });
  return check;
}

/** Reads a manifest back right after pushing it; what is wrong when the registry returns another. */
export async function readBackProblem(
  client: RegistryClient,
  repository: string,
  reference: string,
  digest: Digest,
  name: string,
): Promise<string | undefined> {
  const stored = await client.getManifest(repository, reference);
  if (stored?.digest === digest) return undefined;
  return `the registry returned ${stored ? `digest ${stored.digest}` : 'nothing'} for ${name} right after it was pushed as ${digest}`;
}

/** The entries of an index document, or undefined when the bytes are not an index. Entries that are not descriptors are left out. */
export function indexEntries(bytes: Buffer, mediaType: string): Descriptor[] | undefined {
  return listedEntries(bytes, mediaType)?.filter(isDescriptor);
}

/** What an index document lists, valid descriptors or not; undefined when the bytes are not an index. */
export function listedEntries(bytes: Buffer, mediaType: string): unknown[] | undefined {
  const parsed = parseJson(bytes) as { mediaType?: string; manifests?: unknown[] } | undefined;
  if (!parsed || !isIndexType(parsed.mediaType ?? mediaType) || !Array.isArray(parsed.manifests)) return undefined;
  return parsed.manifests;
}

/**
 * What a tag holds now, as index entries with a platform: the entries of its index, or its
 * single manifest as one entry with the platform its config declares. `unusable` counts the
 * index's entries that cannot be kept (not descriptors, or naming no platform). Undefined when
 * the tag does not exist.
 */
export async function currentEntries(
  client: RegistryClient,
  repository: string,
  reference: string,
): Promise<{ manifest: Manifest; entries: Descriptor[]; unusable: number } | undefined> {
  const manifest = await client.getManifest(repository, reference);
  if (!manifest) return undefined;
  const listed = listedEntries(manifest.bytes, manifest.mediaType);
  if (listed) {
    const entries = listed.filter((entry): entry is Descriptor => isDescriptor(entry) && entry.platform !== undefined);
    return { manifest, entries, unusable: listed.length - entries.length };
  }
  const parsed = parseJson(manifest.bytes) as { config?: { digest?: unknown } } | undefined;
  const config = parsed?.config?.digest;
  const platform = isDigest(config) ? configPlatform(await client.getBlob(repository, config)) : undefined;
  return { manifest, entries: platform ? [descriptorOf(manifest, platform)] : [], unusable: 0 };
}

export function configPlatform(config: Buffer): Platform | undefined {
  const parsed = parseJson(config) as { os?: unknown; architecture?: unknown; variant?: unknown } | undefined;
  if (typeof parsed?.os !== 'string' || typeof parsed.architecture !== 'string') return undefined;
  return normalizePlatform({
    os: parsed.os,
    architecture: parsed.architecture,
    variant: typeof parsed.variant === 'string' ? parsed.variant : undefined,
  });
}

export function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Descriptor | undefined;
  return typeof d === 'object' && d !== null && isDigest(d.digest) && Number.isSafeInteger(d.size) && typeof d.mediaType === 'string';
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}
