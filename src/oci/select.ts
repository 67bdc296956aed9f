/**
 * Choosing platforms out of an image: which index entries a platform list keeps, and the
 * index to publish for them — the original bytes when nothing is dropped, so that the
 * index digest stays the upstream one.
 */
import { type Descriptor, type Document, toDocument } from './manifest.js';
import { formatPlatform, normalizePlatform, type Platform } from './platform.js';

export const platformKey = (p: Platform): string => formatPlatform(normalizePlatform(p));

/** The entries for the wanted platforms, in the index's order; every entry when none are named. */
export function selectEntries(entries: Descriptor[], wanted?: Platform[]): Descriptor[] {
  if (!wanted?.length) return entries;
  const keys = new Set(wanted.map(platformKey));
  return entries.filter((entry) => entry.platform && keys.has(platformKey(entry.platform)));
}

/** The wanted platforms that none of the entries has. */
export function missingPlatforms(entries: Descriptor[], wanted: Platform[]): string[] {
  const present = new Set(describePlatforms(entries));
  return [...new Set(wanted.map(platformKey))].filter((key) => !present.has(key));
}

/** `index` itself when `kept` holds all its entries, else a copy listing only them (every other field kept). */
export function narrowIndex(index: Document, kept: Descriptor[]): Document {
  const parsed = JSON.parse(index.bytes.toString('utf8')) as { manifests: Descriptor[] };
  const keptDigests = new Set(kept.map((entry) => entry.digest));
  const manifests = parsed.manifests.filter((entry) => keptDigests.has(entry.digest));
  if (manifests.length === parsed.manifests.length) return index;
  return toDocument({ ...parsed, manifests }, index.mediaType);
}

/** The platforms the entries name, as `os/arch[/variant]`. */
export const describePlatforms = (entries: Descriptor[]): string[] =>
  entries.flatMap((entry) => (entry.platform ? [platformKey(entry.platform)] : []));
