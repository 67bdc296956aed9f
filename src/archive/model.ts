/**
 * The neutral model every archive format is read into: what the planner needs to know
 * about each image, and where in which archive each piece lives.
 */
import type { Digest } from '../oci/digest.js';
import type { Platform } from '../oci/platform.js';
import type { Reference } from '../oci/reference.js';
import type { Compression } from './open.js';

export interface SourceLayer {
  /** Archive entry holding the layer (links already resolved). */
  entry: string;
  /** sha256 of the uncompressed layer tar, from the image config. */
  diffID: Digest;
  /** Size of the entry in the archive. */
  size: number;
}

export interface SourceImage {
  archive: string;
  /** Tags the archive gives the image (e.g. RepoTags), fully qualified. */
  refs: Reference[];
  platform: Platform;
  config: { bytes: Buffer; digest: Digest };
  layers: SourceLayer[];
}

/** An image of the archive that cannot be loaded; the message names archive, image and what to do. */
export interface RejectedImage {
  /** Its tags, when the archive gave readable ones. */
  refs: Reference[];
  message: string;
}

export interface ScannedArchive {
  path: string;
  compression: Compression;
  format: string;
  /** Size of the file on disk. */
  fileSize: number;
  images: SourceImage[];
  rejected: RejectedImage[];
  warnings: string[];
}
