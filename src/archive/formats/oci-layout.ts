/**
 * OCI image layouts, as Docker ≥ 25 `docker save` and `ctr export` write them: `index.json`
 * names each image (annotation `io.containerd.image.name`, or a full `org.opencontainers.image.ref.name`),
 * blobs live under `blobs/sha256/`. `ctr export` points at the whole upstream index while the
 * archive holds only some platforms' manifests (a per-arch k3s bundle): children that are
 * absent are skipped, those present become images that keep their original manifest.
 */
import { type Digest, digestHex, isDigest, sha256, shortDigest } from '../../oci/digest.js';
import type { Descriptor, Document } from '../../oci/manifest.js';
import { isIndexType, isManifestType } from '../../oci/media-types.js';
import { normalizePlatform, type Platform } from '../../oci/platform.js';
import { formatReference, parseReference, type Reference } from '../../oci/reference.js';
import { ArchiveError } from '../errors.js';
import { isObject, readJsonDocument } from '../json.js';
import type { RejectedImage, SourceImage, SourceLayer } from '../model.js';
import type { ArchiveContents } from '../scan.js';
import { imageConfig } from './docker-save.js';

export const isOciLayout = (contents: ArchiveContents): boolean =>
  contents.entries.has('index.json') &&
  (contents.entries.has('oci-layout') || [...contents.entries.keys()].some((n) => n.startsWith('blobs/')));

const uncompressedLayerTypes = new Set(['application/vnd.oci.image.layer.v1.tar', 'application/vnd.docker.image.rootfs.diff.tar']);

/** Nesting allowed between index.json and an image manifest (index → index → manifest). */
const maxDepth = 3;

/** The images of the bundle; an image whose manifests, config or layers are broken is rejected alone. */
export function readOciLayout(contents: ArchiveContents, warnings: string[]): { images: SourceImage[]; rejected: RejectedImage[] } {
  const index = readJsonDocument(contents, 'index.json', 'image index');
  if (!isObject(index) || !Array.isArray(index.manifests)) {
    throw new ArchiveError(contents.path, 'index.json lists no manifests: the archive is corrupt');
  }
  const images = new Map<Digest, SourceImage>();
  const rejected: RejectedImage[] = [];
  for (const [position, item] of index.manifests.entries()) {
    let ref: Reference | undefined;
    try {
      const descriptor = asDescriptor(item, contents.path, `index.json entry ${position + 1}`);
      ref = imageName(descriptor, contents.path, warnings);
      if (!ref) continue;
      for (const { manifestDigest, image } of readDescriptor(contents, descriptor, undefined, 0)) {
        const known = images.get(manifestDigest);
        if (known) known.refs.push(ref);
        else images.set(manifestDigest, { ...image, refs: [ref] });
      }
    } catch (err) {
      if (!(err instanceof ArchiveError)) throw err;
      const image = ref ? formatReference(ref) : `index.json entry ${position + 1}`;
      rejected.push({ refs: ref ? [ref] : [], message: `${contents.path}: image ${image}: ${err.reason}` });
    }
  }
  return { images: [...images.values()], rejected };
}

/** The images under a descriptor, by manifest digest, with `refs` still empty. */
function readDescriptor(
  contents: ArchiveContents,
  descriptor: Descriptor,
  upstream: Document | undefined,
  depth: number,
): Array<{ manifestDigest: Digest; image: SourceImage }> {
  const document = blobDocument(contents, descriptor);
  if (!document) {
    if (upstream) return []; // a platform this per-arch archive does not carry
    throw new ArchiveError(
      contents.path,
      `manifest ${shortDigest(descriptor.digest)} named in index.json is not in the archive: the bundle is incomplete`,
    );
  }
  if (isIndexType(document.mediaType) && depth < maxDepth) {
    const parsed = JSON.parse(document.bytes.toString('utf8')) as { manifests?: unknown };
    if (!Array.isArray(parsed.manifests))
      throw new ArchiveError(contents.path, `index ${shortDigest(descriptor.digest)} lists no manifests: the archive is corrupt`);
    return parsed.manifests.flatMap((child, i) =>
      readDescriptor(
        contents,
        asDescriptor(child, contents.path, `entry ${i + 1} of index ${shortDigest(descriptor.digest)}`),
        document,
        depth + 1,
      ),
    );
  }
  if (!isManifestType(document.mediaType)) {
    return []; // attestations, signatures and other artifacts are not images to load
  }
  return [{ manifestDigest: document.digest, image: imageFromManifest(contents, document, descriptor.platform, upstream) }];
}

function imageFromManifest(
  contents: ArchiveContents,
  manifest: Document,
  listed: Platform | undefined,
  upstream: Document | undefined,
): SourceImage {
  const parsed = JSON.parse(manifest.bytes.toString('utf8')) as { config?: unknown; layers?: unknown };
  const where = `manifest ${shortDigest(manifest.digest)}`;
  const configDescriptor = asDescriptor(parsed.config, contents.path, `config of ${where}`);
  if (!Array.isArray(parsed.layers)) throw new ArchiveError(contents.path, `${where} lists no layers: the archive is corrupt`);
  const config = imageConfig(contents, blobName(configDescriptor.digest));
  if (config.blob.digest !== configDescriptor.digest) {
    throw new ArchiveError(
      contents.path,
      `config ${shortDigest(configDescriptor.digest)} of ${where} does not match its digest: the archive is corrupt; re-copy or re-download it`,
    );
  }
  const layers = parsed.layers.map((item, i): SourceLayer => {
    const descriptor = asDescriptor(item, contents.path, `layer ${i + 1} of ${where}`);
    const entry = blobName(descriptor.digest);
    if (!contents.entries.has(entry)) {
      throw new ArchiveError(
        contents.path,
        `layer ${shortDigest(descriptor.digest)} of ${where} is not in the archive: the bundle is incomplete; re-create or re-download it`,
      );
    }
    if (uncompressedLayerTypes.has(descriptor.mediaType)) return { kind: 'tar', entry, size: descriptor.size, diffID: descriptor.digest };
    return { kind: 'blob', entry, size: descriptor.size, descriptor };
  });
  // Docker ≥ 25 stores layers uncompressed: those are compressed and get a new manifest.
  const original = layers.every((layer) => layer.kind === 'blob');
  return {
    archive: contents.path,
    refs: [],
    platform: normalizePlatform(listed ?? config.platform),
    config: config.blob,
    layers,
    manifest: original ? manifest : undefined,
    upstreamIndex: upstream,
  };
}

/** A metadata blob with its media type, or undefined when the archive does not hold it. */
function blobDocument(contents: ArchiveContents, descriptor: Descriptor): Document | undefined {
  const name = blobName(descriptor.digest);
  if (!contents.entries.has(name)) return undefined;
  const parsed = readJsonDocument(contents, name, 'manifest') as { mediaType?: unknown };
  const bytes = contents.documents.get(name)!;
  if (sha256(bytes) !== descriptor.digest) {
    throw new ArchiveError(contents.path, `blob ${name} does not match its digest: the archive is corrupt; re-copy or re-download it`);
  }
  const mediaType = typeof parsed.mediaType === 'string' ? parsed.mediaType : descriptor.mediaType;
  return { bytes, digest: descriptor.digest, mediaType };
}

const blobName = (digest: Digest): string => `blobs/sha256/${digestHex(digest)}`;

function asDescriptor(value: unknown, archive: string, what: string): Descriptor {
  if (!isObject(value) || !isDigest(value.digest) || !Number.isSafeInteger(value.size) || typeof value.mediaType !== 'string') {
    throw new ArchiveError(archive, `${what} is not a valid descriptor: the archive is corrupt`);
  }
  return value as unknown as Descriptor;
}

/** The image's full name from the annotations producers write; undefined (with a warning) when it has none. */
function imageName(descriptor: Descriptor, archive: string, warnings: string[]): Reference | undefined {
  const annotations = descriptor.annotations ?? {};
  const name = annotations['io.containerd.image.name'] ?? annotations['org.opencontainers.image.ref.name'];
  if (name && /[/:]/.test(name)) {
    try {
      return parseReference(name);
    } catch (err) {
      warnings.push(`${archive}: ignoring image ${shortDigest(descriptor.digest)}: ${(err as Error).message}`);
      return undefined;
    }
  }
  warnings.push(`${archive}: ignoring image ${shortDigest(descriptor.digest)}: index.json gives it no name`);
  return undefined;
}
