/** `inspect`: what bundles hold — format, compression, images, platforms, layers — read without a registry. */
import { readArchives } from '../archive/inputs.js';
import { layerKey, type ScannedArchive, type SourceImage } from '../archive/model.js';
import type { Digest } from '../oci/digest.js';
import { formatPlatform } from '../oci/platform.js';
import { formatReference } from '../oci/reference.js';
import { withWorkDir } from '../workspace.js';

export interface InspectedLayer {
  /** diffID for uncompressed layers, blob digest for compressed ones. */
  digest: Digest;
  /** `tar` (uncompressed, compressed by load) or the compressed blob's media type. */
  storedAs: string;
  size: number;
}

export interface InspectedImage {
  refs: string[];
  platform: string;
  configDigest: Digest;
  /** The original manifest's digest, when the archive has it and load pushes it unchanged. */
  manifestDigest?: Digest;
  upstreamIndexDigest?: Digest;
  layers: InspectedLayer[];
  size: number;
}

export interface InspectedArchive {
  path: string;
  format: string;
  compression: string;
  fileSize: number;
  images: InspectedImage[];
  warnings: string[];
  totals: { images: number; layers: number; layerBytes: number };
}

export function inspectArchives(paths: string[]): Promise<InspectedArchive[]> {
  return withWorkDir(async (workDir) => {
    const archives = await readArchives(paths, workDir, { onRead: () => {}, onNotice: () => {} });
    return archives.map(describeArchive);
  });
}

function describeArchive(archive: ScannedArchive): InspectedArchive {
  const images = archive.images.map(describeImage);
  // Layers shared by several images are stored once: count them once.
  const distinct = new Map(images.flatMap((image) => image.layers.map((layer) => [layer.digest, layer.size] as const)));
  return {
    path: archive.path,
    format: archive.format,
    compression: archive.compression,
    fileSize: archive.fileSize,
    images,
    // Images the archive holds but that cannot be loaded are shown with why.
    warnings: [...archive.warnings, ...archive.rejected.map((rejected) => rejected.message)],
    totals: { images: images.length, layers: distinct.size, layerBytes: [...distinct.values()].reduce((a, b) => a + b, 0) },
  };
}

function describeImage(image: SourceImage): InspectedImage {
  const layers = image.layers.map((layer) => ({
    digest: layerKey(layer),
    storedAs: layer.kind === 'tar' ? 'tar' : layer.descriptor.mediaType,
    size: layer.size,
  }));
  return {
    refs: image.refs.map(formatReference),
    platform: formatPlatform(image.platform),
    configDigest: image.config.digest,
    manifestDigest: image.manifest?.digest,
    upstreamIndexDigest: image.upstreamIndex?.digest,
    layers,
    size: layers.reduce((sum, layer) => sum + layer.size, 0),
  };
}
