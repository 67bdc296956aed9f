/**
 * The plan: which image goes to which tag for which platform, and which layer is read from
 * where. Built from every archive's metadata before anything is written. A tag any of whose
 * images was rejected (broken in its archive, wrong platform, claimed by two images) is left
 * out whole, as a failure: a tag never gets only part of what this run brings for it.
 */
import { layerKey, type ScannedArchive, type SourceImage, type SourceLayer } from '../archive/model.js';
import { type Digest, shortDigest } from '../oci/digest.js';
import { formatPlatform } from '../oci/platform.js';
import { formatReference, type Reference, type TargetRegistry, targetReference } from '../oci/reference.js';

export interface TagPlan {
  target: Reference;
  /** `registry/repository:tag` */
  targetName: string;
  repository: string;
  /** One image per platform, sorted by platform. */
  images: PlannedImage[];
}

export interface PlannedImage {
  source: SourceImage;
  /** The tag this image had in its archive. */
  sourceRef: Reference;
  platform: string;
}

/** A distinct layer of the run (by diffID or blob digest), read at most once, from one archive. */
export interface LayerPlan {
  key: Digest;
  archive: string;
  source: SourceLayer;
  /** Every target repository that needs it, in first-use order. */
  repositories: string[];
}

/** What could not be loaded: a tag, or an archive when its images are unknown. */
export interface Failure {
  target: string;
  message: string;
}

export interface Plan {
  archives: ScannedArchive[];
  tags: TagPlan[];
  layers: Map<Digest, LayerPlan>;
  /** Tags and archives refused while planning, sorted by target. */
  failures: Failure[];
}

export class PlanError extends Error {}

/** `unreadable`: archives that could not be read at all, reported as they are. */
export function buildPlan(archives: ScannedArchive[], target: TargetRegistry, imageList?: Reference[], unreadable: Failure[] = []): Plan {
  const wanted = imageList && new Set(imageList.map(formatReference));
  const found = new Set<string>();
  const tags = new Map<string, TagPlan>();
  const refused = new Map<string, string[]>();
  const refuse = (targetName: string, message: string) => refused.set(targetName, [...(refused.get(targetName) ?? []), message]);
  const failures = [...unreadable];
  for (const archive of archives) {
    for (const source of archive.images) {
      for (const sourceRef of source.refs) {
        const name = formatReference(sourceRef);
        if (wanted && !wanted.has(name)) continue;
        found.add(name);
        const image = { source, sourceRef, platform: formatPlatform(source.platform) };
        const conflict = addImage(tags, targetReference(sourceRef, target), image);
        if (conflict) refuse(conflict.target, conflict.message);
      }
    }
    for (const rejected of archive.rejected) {
      if (rejected.refs.length === 0) failures.push({ target: archive.path, message: rejected.message });
      for (const ref of rejected.refs) {
        if (wanted && !wanted.has(formatReference(ref))) continue;
        found.add(formatReference(ref));
        refuse(formatReference(targetReference(ref, target)), rejected.message);
      }
    }
  }
  if (wanted) {
    const missing = [...wanted].filter((name) => !found.has(name));
    if (missing.length) {
      const unread = unreadable.length
        ? ` (${unreadable.length} archive(s) could not be read: ${unreadable.map((f) => f.target).join(', ')})`
        : '';
      throw new PlanError(
        `${missing.length} image(s) of the image list are in none of the archives${unread}: ${missing.join(', ')}; add the bundles that hold them or remove them from the list`,
      );
    }
  }
  for (const [targetName, messages] of refused) {
    tags.delete(targetName);
    failures.push({ target: targetName, message: messages.join('; ') });
  }
  const tagPlans = [...tags.values()].sort((a, b) => a.targetName.localeCompare(b.targetName));
  for (const tag of tagPlans) tag.images.sort((a, b) => a.platform.localeCompare(b.platform));
  failures.sort((a, b) => a.target.localeCompare(b.target));
  return { archives, tags: tagPlans, layers: planLayers(tagPlans), failures };
}

/** Adds the image to its tag; two different images for one tag and platform are a conflict. */
function addImage(tags: Map<string, TagPlan>, target: Reference, image: PlannedImage): Failure | undefined {
  const targetName = formatReference(target);
  let tag = tags.get(targetName);
  if (!tag) {
    tag = { target, targetName, repository: `${target.repository}`, images: [] };
    tags.set(targetName, tag);
  }
  const same = tag.images.find((other) => other.platform === image.platform);
  if (!same) {
    tag.images.push(image);
    return undefined;
  }
  if (same.source.config.digest === image.source.config.digest) return undefined;
  const describe = ({ source, sourceRef }: PlannedImage) =>
    `${formatReference(sourceRef)} with config ${shortDigest(source.config.digest)} in ${source.archive}`;
  return {
    target: targetName,
    message: `two different images claim ${targetName} for ${image.platform}: ${describe(same)} and ${describe(image)}; load them in separate runs or fix the bundles`,
  };
}

function planLayers(tags: TagPlan[]): Map<Digest, LayerPlan> {
  const layers = new Map<Digest, LayerPlan>();
  for (const tag of tags) {
    for (const { source } of tag.images) {
      for (const layer of source.layers) addLayer(layers, source.archive, layer, tag.repository);
    }
  }
  return layers;
}

function addLayer(layers: Map<Digest, LayerPlan>, archive: string, source: SourceLayer, repository: string): void {
  const key = layerKey(source);
  const plan = layers.get(key);
  if (!plan) {
    layers.set(key, { key, archive, source, repositories: [repository] });
  } else if (!plan.repositories.includes(repository)) {
    plan.repositories.push(repository);
  }
}
