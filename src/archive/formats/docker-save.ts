/**
 * The classic `docker save` layout (Docker < 25, podman `save -m`): `manifest.json` lists
 * each image's config file, tags and `<id>/layer.tar` entries; layers are uncompressed and
 * their digests are the config's `rootfs.diff_ids`.
 */
import { posix } from 'node:path';
import { isDigest, sha256, type Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import { normalizePlatform, type Platform } from '../../oci/platform.js';
import { parseReference, type Reference } from '../../oci/reference.js';
import { ArchiveError } from '../errors.js';
import { compressionOf } from '../open.js';
import { isObject, isStringArray, readJsonDocument } from '../json.js';
import type { RejectedImage, SourceImage, SourceLayer } from '../model.js';
import type { ArchiveContents } from '../scan.js';
import { resolveLink } from '../tar.js';

export const isDockerSave = (contents: ArchiveContents): boolean => contents.entries.has('manifest.json');

/** The images of the bundle; an image whose entry, config or layers are broken is rejected alone. */
export function readDockerSave(contents: ArchiveContents, warnings: string[]): { images: SourceImage[]; rejected: RejectedImage[] } {
  const manifest = readJsonDocument(contents, 'manifest.json', 'image list');
  if (!Array.isArray(manifest)) {
    throw new ArchiveError(contents.path, 'manifest.json is not a list of images: the archive is corrupt');
  }
  const images: SourceImage[] = [];
  const rejected: RejectedImage[] = [];
  manifest.forEach((item, position) => {
    let refs: Reference[] = [];
    let image = `manifest.json entry ${position + 1}`;
    try {
      if (!isObject(item) || typeof item.Config !== 'string' || !isStringArray(item.Layers)) {
        throw new ArchiveError(contents.path, 'it lacks Config or Layers: the archive is corrupt');
      }
      refs = parseRepoTags(item.RepoTags, contents.path, warnings);
      image = describe(refs, item.Config);
      images.push(readImage(contents, refs, item.Config, item.Layers));
    } catch (err) {
      if (!(err instanceof ArchiveError)) throw err;
      rejected.push({ refs, message: `${contents.path}: image ${image}: ${err.reason}` });
    }
  });
  return { images, rejected };
}

function readImage(contents: ArchiveContents, refs: Reference[], configName: string, layerNames: string[]): SourceImage {
  const config = imageConfig(contents, configName);
  if (config.diffIDs.length !== layerNames.length) {
    throw new ArchiveError(
      contents.path,
      `it lists ${layerNames.length} layers but its config has ${config.diffIDs.length} diff_ids: the archive is corrupt`,
    );
  }
  const layers = layerNames.map((name, i) => sourceLayer(contents, resolveLayerEntry(contents, name), config.diffIDs[i]!));
  return { archive: contents.path, refs, platform: config.platform, config: config.blob, layers };
}

function parseRepoTags(value: unknown, archive: string, warnings: string[]): Reference[] {
  if (value === null || value === undefined) return [];
  if (!isStringArray(value)) throw new ArchiveError(archive, 'manifest.json has RepoTags that are not strings: the archive is corrupt');
  return value.flatMap((tag) => {
    try {
      return [parseReference(tag)];
    } catch (err) {
      warnings.push(`${archive}: ignoring tag ${JSON.stringify(tag)}: ${(err as Error).message}`);
      return [];
    }
  });
}

const describe = (refs: Reference[], configName: string): string => (refs.length ? `${refs[0]!.repository}:${refs[0]!.tag}` : configName);

interface ImageConfig {
  blob: { bytes: Buffer; digest: Digest };
  platform: Platform;
  diffIDs: Digest[];
}

export function imageConfig(contents: ArchiveContents, name: string): ImageConfig {
  const parsed = readJsonDocument(contents, name, 'image config');
  const bytes = contents.documents.get(name)!;
  if (!isObject(parsed) || !isObject(parsed.rootfs) || !Array.isArray(parsed.rootfs.diff_ids)) {
    throw new ArchiveError(contents.path, `image config ${name} has no rootfs.diff_ids: the archive is corrupt`);
  }
  const diffIDs = parsed.rootfs.diff_ids;
  if (!diffIDs.every(isDigest)) {
    throw new ArchiveError(contents.path, `image config ${name} has a malformed diff_id: the archive is corrupt`);
  }
  if (typeof parsed.architecture !== 'string' || typeof parsed.os !== 'string') {
    throw new ArchiveError(contents.path, `image config ${name} does not say its os and architecture: the archive is corrupt`);
  }
  const platform = normalizePlatform({
    os: parsed.os,
    architecture: parsed.architecture,
    variant: typeof parsed.variant === 'string' ? parsed.variant : undefined,
  });
  return { blob: { bytes, digest: sha256(bytes) }, platform, diffIDs };
}

/**
 * Most producers store layers uncompressed; crane stores the registry's compressed blobs,
 * named by their digest, which are then pushed unchanged.
 */
function sourceLayer(contents: ArchiveContents, entry: string, diffID: Digest): SourceLayer {
  const size = contents.entries.get(entry)!.size;
  const compression = compressionOf(contents.heads.get(entry) ?? Buffer.alloc(0));
  if (!compression) return { kind: 'tar', entry, size, diffID };
  const named = /^(?:sha256:)?([a-f0-9]{64})(?:\.tar)?(?:\.gz|\.zst)?$/.exec(posix.basename(entry));
  if (!named) {
    throw new ArchiveError(contents.path, `its layer ${entry} is compressed but its name is not its digest: unsupported archive layout`);
  }
  const mediaType = compression === 'gzip' ? MediaType.ociLayerGzip : MediaType.ociLayerZstd;
  return { kind: 'blob', entry, size, descriptor: { mediaType, digest: `sha256:${named[1]}`, size } };
}

/** Follows links from a layer's entry to the file holding it, staying inside the archive. */
function resolveLayerEntry(contents: ArchiveContents, name: string): string {
  let current = name;
  for (let hops = 0; hops < 16; hops++) {
    const entry = contents.entries.get(current);
    if (!entry) {
      throw new ArchiveError(
        contents.path,
        `its layer ${name} is not in the archive: the bundle is incomplete; re-create or re-download it`,
      );
    }
    if (entry.type === 'file') return current;
    if ((entry.type !== 'symlink' && entry.type !== 'link') || entry.linkname === undefined) {
      throw new ArchiveError(contents.path, `its layer ${name} is not a file: the archive is corrupt`);
    }
    const target = resolveLink(current, entry.linkname, entry.type);
    if (target === null) {
      throw new ArchiveError(
        contents.path,
        `its layer ${name} is a link to ${entry.linkname}, outside the archive: refusing it; the archive is not trustworthy, get the bundle from its source again`,
      );
    }
    current = target;
  }
  throw new ArchiveError(contents.path, `its layer ${name} is a loop of links: the archive is corrupt`);
}
