/**
 * `verify`: what a registry holds under tags, checked the way `load` checks before it points
 * a tag: the tag is an index; every child manifest, config and layer exists with the digest
 * and size its parent names; each entry's platform is its config's; and, when asked, the
 * index has exactly the expected platforms. Reads only; never writes.
 */
import { type Digest, shortDigest } from '../oci/digest.js';
import { formatPlatform, normalizePlatform, type Platform } from '../oci/platform.js';
import { formatReference, parseTargetRegistry, type Reference, targetReference } from '../oci/reference.js';
import { RegistryClient } from '../registry/client.js';
import { type ConnectionSettings, resolveConnection } from '../registry/connection.js';
import { limiter } from './limit.js';
import { isDescriptor, listedEntries, verifyImage } from './verify.js';

export interface VerifyOptions extends ConnectionSettings {
  /** `HOST[:PORT][/NAMESPACE]` */
  registry: string;
  /** Images as they were loaded (`rancher/mirrored-pause:3.6`); mapped into the registry as `load` maps them. */
  images: Reference[];
  /** When given, each index must hold exactly these platforms. */
  platforms?: Platform[];
  concurrency?: number;
}

export interface VerifiedTag {
  target: string;
  /** Digest of what the tag points to, when it exists. */
  indexDigest?: Digest;
  platforms: Array<{ platform: string; manifestDigest: Digest; configDigest?: Digest }>;
  /** Empty when everything checked out. */
  problems: string[];
}

export interface VerifyResult {
  images: VerifiedTag[];
  ok: boolean;
}

export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const registry = parseTargetRegistry(options.registry);
  const expected = options.platforms?.map((p) => formatPlatform(normalizePlatform(p)));
  const client = new RegistryClient(await resolveConnection(registry.host, options));
  try {
    await client.ping();
    const perTag = limiter(options.concurrency ?? 4);
    const images = await Promise.all(
      options.images.map((ref) => perTag(() => verifyTag(client, targetReference(ref, registry), expected))),
    );
    return { images, ok: images.every((image) => image.problems.length === 0) };
  } finally {
    await client.close();
  }
}

async function verifyTag(client: RegistryClient, target: Reference, expected?: string[]): Promise<VerifiedTag> {
  const report: VerifiedTag = { target: formatReference(target), indexDigest: undefined, platforms: [], problems: [] };
  const { problems } = report;
  const stored = await client.getManifest(target.repository, target.tag ?? target.digest!);
  if (!stored) {
    problems.push('the tag does not exist');
    return report;
  }
  report.indexDigest = stored.digest;
  const listed = listedEntries(stored.bytes, stored.mediaType);
  if (!listed) {
    problems.push(`the tag holds a single image (${stored.mediaType}), not a multi-platform index`);
    return report;
  }
  listed.forEach((entry, i) => {
    if (!isDescriptor(entry)) {
      problems.push(`index entry ${i + 1} of ${listed.length} is not a descriptor: it needs a mediaType, a sha256 digest and a size`);
    }
  });
  const entries = listed.filter(isDescriptor);
  const checks = await Promise.all(entries.map((entry) => verifyImage(client, target.repository, entry)));
  entries.forEach((entry, i) => {
    problems.push(...checks[i]!.problems);
    if (!entry.platform) {
      problems.push(`index entry ${shortDigest(entry.digest)} has no platform`);
      return;
    }
    report.platforms.push({
      platform: formatPlatform(normalizePlatform(entry.platform)),
      manifestDigest: entry.digest,
      configDigest: checks[i]!.configDigest,
    });
  });
  const found = report.platforms.map((p) => p.platform);
  const twice = found.filter((p, i) => found.indexOf(p) !== i);
  if (twice.length) problems.push(`the index lists ${[...new Set(twice)].join(', ')} more than once`);
  if (expected) {
    const missing = expected.filter((p) => !found.includes(p));
    const extra = found.filter((p) => !expected.includes(p));
    if (missing.length) problems.push(`missing platform(s) ${missing.join(', ')}`);
    if (extra.length) problems.push(`unexpected platform(s) ${extra.join(', ')}`);
  }
  return report;
}
