/**
 * The plan: which image goes to which tag for which platform, and which layer is read from
 * where. Built from every archive's metadata before anything is written, so that a bad
 * bundle or a missing image stops the run while the registry is still untouched.
 */
import { layerKey, type ScannedArchive, type SourceImage, type SourceLayer } from '../archive/model.js';
import type { Digest } from '../oci/digest.js';
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

export interface Plan {
  archives: ScannedArchive[];
  tags: TagPlan[];
  layers: Map<Digest, LayerPlan>;
}

export class PlanError extends Error {}

export function buildPlan(archives: ScannedArchive[], target: TargetRegistry, imageList?: Reference[]): Plan {
  const wanted = imageList && new Set(imageList.map(formatReference));
  const found = new Set<string>();
  const tags = new Map<string, TagPlan>();
  for (const archive of archives) {
    for (const source of archive.images) {
      for (const sourceRef of source.refs) {
        const name = formatReference(sourceRef);
        if (wanted && !wanted.has(name)) continue;
        found.add(name);
        addImage(tags, targetReference(sourceRef, target), { source, sourceRef, platform: formatPlatform(source.platform) });
      }
    }
  }
  if (wanted) {
    const missing = [...wanted].filter((name) => !found.has(name));
    if (missing.length) {
      throw new PlanError(
        `${missing.length} image(s) of the image list are in none of the archives: ${missing.join(', ')}; add the bundles that hold them or remove them from the list`,
      );
    }
  }
  const tagPlans = [...tags.values()].sort((a, b) => a.targetName.localeCompare(b.targetName));
  for (const tag of tagPlans) tag.images.sort((a, b) => a.platform.localeCompare(b.platform));
  return { archives, tags: tagPlans, layers: planLayers(tagPlans) };
}

function addImage(tags: Map<string, TagPlan>, target: Reference, image: PlannedImage): void {
  const targetName = formatReference(target);
  let tag = tags.get(targetName);
  if (!tag) {
    tag = { target, targetName, repository: `${target.repository}`, images: [] };
    tags.set(targetName, tag);
  }
  const same = tag.images.find((other) => other.platform === image.platform);
  if (!same) {
    tag.images.push(image);
    return;
  }
  if (same.source.config.digest !== image.source.config.digest) {
    throw new PlanError(
      `two different images claim ${targetName} for ${image.platform}: ${formatReference(same.sourceRef)} in ${same.source.archive} and ${formatReference(image.sourceRef)} in ${image.source.archive}; load them in separate runs or fix the bundles`,
    );
  }
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
