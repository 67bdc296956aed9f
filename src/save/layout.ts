/**
 * What goes into a bundle, in order: metadata first (so readers can stream), then the small
 * documents, then the layers.
 *
 * - OCI layout (default): the ORIGINAL manifests, configs and compressed layer blobs under
 *   `blobs/sha256/`, `index.json` naming each image (`io.containerd.image.name`, and the tag as
 *   `org.opencontainers.image.ref.name`, as `ctr export` and Docker ≥ 25 write), plus a Docker
 *   `manifest.json` naming one platform's manifest per image, so `docker load` reads it too.
 * - Legacy (`docker save` < 25): `manifest.json`, `<config>.json`, `<diff_id>/layer.tar` with
 *   uncompressed layers; one platform per image.
 */
import { type Digest, digestHex } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { formatReference, type Reference } from '../oci/reference.js';
import type { BundlePlan } from './plan.js';

/** A layer fetched from the source registry into the bundle. */
export interface LayerSource {
  repository: string;
  blob: Descriptor;
  /** Set for the legacy layout: decompress, and check against this diff_id. */
  diffID?: Digest;
}

export type BundleEntry = { name: string; bytes: Buffer } | { name: string; directory: true } | { name: string; layer: LayerSource };

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const blobPath = (digest: Digest): string => `blobs/sha256/${digestHex(digest)}`;

/** `RepoTags` lists tags only; an image named by digest alone gets none. */
const repoTags = (name: Reference): string[] => (name.tag ? [formatReference({ ...name, digest: undefined })] : []);

export function ociLayoutEntries(bundle: BundlePlan): BundleEntry[] {
  const documents = new Map<Digest, Buffer>();
  const layers = new Map<Digest, LayerSource>();
  for (const image of bundle.images) {
    if (image.index) documents.set(image.index.digest, image.index.bytes);
    for (const child of image.children) {
      documents.set(child.manifest.digest, child.manifest.bytes);
      documents.set(child.config.descriptor.digest, child.config.bytes);
      for (const blob of child.layers) if (!layers.has(blob.digest)) layers.set(blob.digest, { repository: image.repository, blob });
    }
  }
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: bundle.images.map((image) => ({
      ...image.top,
      annotations: {
        ...image.top.annotations,
        'io.containerd.image.name': formatReference(image.name),
        ...(image.name.tag ? { 'org.opencontainers.image.ref.name': image.name.tag } : {}),
      },
    })),
  };
  const dockerManifest = bundle.images.map((image) => {
    const child = image.children[0]!;
    return {
      Config: blobPath(child.config.descriptor.digest),
      RepoTags: repoTags(image.name),
      Layers: child.layers.map((layer) => blobPath(layer.digest)),
    };
  });
  return [
    { name: 'oci-layout', bytes: json({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', bytes: json(index) },
    { name: 'manifest.json', bytes: json(dockerManifest) },
    { name: 'blobs', directory: true },
    { name: 'blobs/sha256', directory: true },
    ...[...documents].map(([digest, bytes]) => ({ name: blobPath(digest), bytes })),
    ...[...layers].map(([digest, layer]) => ({ name: blobPath(digest), layer })),
  ];
}

export function legacyEntries(bundle: BundlePlan): BundleEntry[] {
  const configs = new Map<Digest, Buffer>();
  const layers = new Map<Digest, LayerSource>();
  const dockerManifest = bundle.images.map((image) => {
    const child = image.children[0]!;
    configs.set(child.config.descriptor.digest, child.config.bytes);
    child.layers.forEach((blob, i) => {
      const diffID = child.config.diffIDs[i]!;
      if (!layers.has(diffID)) layers.set(diffID, { repository: image.repository, blob, diffID });
    });
    return {
      Config: `${digestHex(child.config.descriptor.digest)}.json`,
      RepoTags: repoTags(image.name),
      Layers: child.config.diffIDs.map((diffID) => `${digestHex(diffID)}/layer.tar`),
    };
  });
  return [
    { name: 'manifest.json', bytes: json(dockerManifest) },
    ...[...configs].map(([digest, bytes]) => ({ name: `${digestHex(digest)}.json`, bytes })),
    ...[...layers].flatMap(([diffID, layer]): BundleEntry[] => [
      { name: digestHex(diffID), directory: true },
      { name: `${digestHex(diffID)}/layer.tar`, layer },
    ]),
  ];
}
