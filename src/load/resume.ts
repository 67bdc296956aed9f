/**
 * What a re-run can learn from the registry before reading any archive: for each planned
 * image whose tag already lists a manifest with the same config (an earlier, maybe
 * interrupted, run pushed it), the compressed blob of each of its layers. Those layers are
 * then only HEAD-checked, like the ones the blob-info cache knows, so that an image already
 * in the registry with all its blobs costs a few requests and no reading or recompression,
 * even on a machine without the cache.
 */
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { formatPlatform, normalizePlatform } from '../oci/platform.js';
import type { RegistryClient } from '../registry/client.js';
import { limiter } from './limit.js';
import type { TagPlan } from './plan.js';
import { indexEntries } from './verify.js';

/** diffID → the blob the registry already holds for that uncompressed layer. */
export async function blobsAtTags(client: RegistryClient, tags: TagPlan[], concurrency: number): Promise<Map<Digest, Descriptor>> {
  const known = new Map<Digest, Descriptor>();
  const limit = limiter(concurrency);
  await Promise.all(
    tags.map((tag) =>
      limit(async () => {
        const current = await client.getManifest(tag.repository, tag.target.tag!);
        const entries = current && indexEntries(current.bytes, current.mediaType);
        if (!entries) return;
        for (const image of tag.images) {
          const entry = entries.find((e) => e.platform && formatPlatform(normalizePlatform(e.platform)) === image.platform);
          const layers = entry && (await layersOf(client, tag.repository, entry, image.source.config.digest));
          if (!layers || layers.length !== image.source.layers.length) continue;
          image.source.layers.forEach((layer, i) => {
            const { mediaType, digest, size } = layers[i]!;
            if (layer.kind === 'tar') known.set(layer.diffID, { mediaType, digest, size });
          });
        }
      }),
    ),
  );
  return known;
}

/** The layers of the manifest when it has the config we would push. */
async function layersOf(client: RegistryClient, repository: string, entry: Descriptor, config: Digest): Promise<Descriptor[] | undefined> {
  const manifest = await client.getManifest(repository, entry.digest);
  if (!manifest) return undefined;
  try {
    const parsed = JSON.parse(manifest.bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
    if (parsed.config?.digest !== config || !Array.isArray(parsed.layers)) return undefined;
    return parsed.layers;
  } catch {
    return undefined;
  }
}
