/** Builders for image manifests and indexes (OCI or Docker schema2), serialised once so digests are stable. */
import { type Digest, sha256 } from './digest.js';
import { formatMediaTypes, type ManifestFormat } from './media-types.js';
import type { Platform } from './platform.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** A document ready to push: the exact bytes, their digest and media type. */
export interface Document {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
}

export function toDocument(value: object, mediaType: string): Document {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, digest: sha256(bytes), mediaType };
}

export const descriptorOf = (doc: Document, platform?: Platform): Descriptor => ({
  mediaType: doc.mediaType,
  digest: doc.digest,
  size: doc.bytes.length,
  ...(platform ? { platform } : {}),
});

export function imageManifest(config: Descriptor, layers: Descriptor[], format: ManifestFormat = 'oci'): Document {
  const { manifest } = formatMediaTypes[format];
  return toDocument({ schemaVersion: 2, mediaType: manifest, config, layers }, manifest);
}

/** An OCI index, or a Docker manifest list: the caller keeps the children of the same family. */
export function imageIndex(manifests: Descriptor[], format: ManifestFormat = 'oci'): Document {
  const { index } = formatMediaTypes[format];
  return toDocument({ schemaVersion: 2, mediaType: index, manifests }, index);
}
