/**
 * The neutral model every archive format is read into: what the planner needs to know
 * about each image, and where in which archive each piece lives.
 */
import type { Digest } from '../oci/digest.js';
import type { Descriptor, Document } from '../oci/manifest.js';
import type { Platform } from '../oci/platform.js';
import type { Reference } from '../oci/reference.js';
import type { ArchiveSource, Compression } from './open.js';

/**
 * A layer as the archive stores it: an uncompressed tar that airlift compresses, or a blob
 * (already compressed, as the registry had it) that is pushed unchanged.
 */
export type SourceLayer =
  | {
      kind: 'tar';
      /** Archive entry holding the layer (links already resolved). */
      entry: string;
      /** Size of the entry in the archive. */
      size: number;
      /** sha256 of the uncompressed layer tar, from the image config. */
      diffID: Digest;
    }
  | { kind: 'blob'; entry: string; size: number; descriptor: Descriptor };

/** What identifies a layer's content across archives: its diffID or its blob digest. */
export const layerKey = (layer: SourceLayer): Digest => (layer.kind === 'tar' ? layer.diffID : layer.descriptor.digest);

export interface SourceImage {
  archive: string;
  /** Tags the archive gives the image (e.g. RepoTags), fully qualified. */
  refs: Reference[];
  platform: Platform;
  config: { bytes: Buffer; digest: Digest };
  layers: SourceLayer[];
  /** The original manifest, pushed byte-for-byte, when the archive has it and every layer as a blob. */
  manifest?: Document;
  /** The multi-platform index the image was exported from (ctr export), possibly listing platforms not in this archive. */
  upstreamIndex?: Document;
}

/** An image of the archive that cannot be loaded; the message names archive, image and what to do. */
export interface RejectedImage {
  /** Its tags, when the archive gave readable ones. */
  refs: Reference[];
  message: string;
}

export interface ScannedArchive extends ArchiveSource {
  compression: Compression;
  format: string;
  /** Size of the file on disk. */
  fileSize: number;
  images: SourceImage[];
  rejected: RejectedImage[];
  warnings: string[];
}
