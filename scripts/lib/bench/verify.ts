/**
 * A contender's run counts only if the registry ends up with what `airlift load` promises: every
 * image as one index (OCI index or Docker manifest list) with exactly the bundles' platforms.
 */
import { request } from 'undici';
import { K3S_PLATFORMS, type Platform, splitRepoTag } from '../bundle-gen.js';

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

interface Index {
  mediaType?: string;
  manifests?: Array<{ platform?: Platform }>;
}

function platformName({ os, architecture, variant }: Platform): string {
  return [os, architecture, variant].filter(Boolean).join('/');
}

/** Throws, naming the image, unless every `repoTags` entry is a multi-arch index on the plain-HTTP registry `host`. */
export async function verifyIndexes(host: string, repoTags: string[]): Promise<void> {
  const expected = K3S_PLATFORMS.map(platformName).sort().join(', ');
  for (const repoTag of repoTags) {
    const [repo, tag] = splitRepoTag(repoTag);
    const res = await request(`http://${host}/v2/${repo}/manifests/${tag}`, { headers: { accept: INDEX_TYPES.join(', ') } });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${host}/${repoTag}: GET manifest answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const index = JSON.parse(text) as Index;
    const found = (index.manifests ?? [])
      .map((entry) => platformName(entry.platform ?? { os: '?', architecture: '?' }))
      .sort()
      .join(', ');
    if (!INDEX_TYPES.includes(index.mediaType ?? '') || found !== expected) {
      throw new Error(`${host}/${repoTag} is not a multi-arch index of ${expected}: ${index.mediaType} with [${found}]`);
    }
  }
}
