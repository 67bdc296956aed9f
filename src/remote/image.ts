/**
 * An image as sync and save read it from a registry: its top manifest (an index or one image
 * manifest) and one entry per platform image, each with its platform.
 */
import { shortDigest } from '../oci/digest.js';
import { type Descriptor, descriptorOf } from '../oci/manifest.js';
import { formatReference, type Reference, type TargetRegistry, targetReference } from '../oci/reference.js';
import type { Manifest, RegistryClient } from '../registry/client.js';
import { configPlatform, indexEntries } from '../load/verify.js';

export interface RemoteImage {
  /** The name as given, tag defaulted (`docker.io/rancher/mirrored-pause:3.6`): what bundles record and targets derive from. */
  name: Reference;
  /** Where it was read: `registry/repository:tag` in the source registry. */
  location: string;
  repository: string;
  top: Manifest;
  isIndex: boolean;
  /** The index's entries, or the single manifest as one entry carrying its config's platform. */
  entries: Descriptor[];
  /** A single manifest's config, read to learn its platform. */
  config?: Buffer;
}

/** The source registry does not have the image, or serves something that is not one. */
export class RemoteImageError extends Error {}

export async function resolveImage(client: RegistryClient, given: Reference, source: TargetRegistry): Promise<RemoteImage> {
  const name: Reference = { ...given, tag: given.tag ?? (given.digest ? undefined : 'latest') };
  const where = targetReference(name, source);
  const location = formatReference(where);
  const top = await client.getManifest(where.repository, where.digest ?? where.tag!);
  if (!top) throw new RemoteImageError(`${location} does not exist: check the image name and --from`);
  if (where.digest && top.digest !== where.digest) {
    throw new RemoteImageError(`${location} was served with digest ${top.digest}: the registry returned another manifest`);
  }
  const image = { name, location, repository: where.repository, top };
  const entries = indexEntries(top.bytes, top.mediaType);
  if (entries) return { ...image, isIndex: true, entries };
  const config = imageParts(top, location).config;
  const bytes = await client.getBlob(where.repository, config.digest);
  const platform = configPlatform(bytes);
  if (!platform) throw new RemoteImageError(`${location} has a config without os and architecture: it is not a runnable image`);
  return { ...image, isIndex: false, entries: [descriptorOf(top, platform)], config: bytes };
}

/** The manifest an index entry names, checked against the entry's digest. */
export async function fetchManifest(client: RegistryClient, repository: string, entry: Descriptor): Promise<Manifest> {
  const manifest = await client.getManifest(repository, entry.digest);
  const where = `${client.host}/${repository}@${shortDigest(entry.digest)}`;
  if (!manifest) throw new RemoteImageError(`${where} is listed in its index but missing from the registry`);
  if (manifest.digest !== entry.digest) throw new RemoteImageError(`${where} was served with digest ${manifest.digest}`);
  return manifest;
}

/** The config and layers of an image manifest. */
export function imageParts(manifest: Manifest, where: string): { config: Descriptor; layers: Descriptor[] } {
  let parsed: { config?: Descriptor; layers?: Descriptor[] } | undefined;
  try {
    parsed = JSON.parse(manifest.bytes.toString('utf8')) as typeof parsed;
  } catch {
    // reported below
  }
  if (!parsed?.config?.digest || !Array.isArray(parsed.layers)) {
    throw new RemoteImageError(`${where} is a ${manifest.mediaType || 'document'} with no config and layers: not an image manifest`);
  }
  return { config: parsed.config, layers: parsed.layers };
}
