/**
 * Blobs from the source registry into the target: HEAD first, then a cross-repository mount
 * from a repository this run already put the blob in, else a streamed upload. A blob that
 * several images need at the same time is transferred once; the others wait and mount it.
 */
import { type BlobPlacement, placeBlob } from '../load/blobs.js';
import type { limiter } from '../load/limit.js';
import type { Descriptor } from '../oci/manifest.js';
import type { Digest } from '../oci/digest.js';
import type { RegistryClient } from '../registry/client.js';
import { blobFrom } from '../remote/blobs.js';

export class BlobCopier {
  /** The latest placement of each blob; it resolves to the target repository that holds it. */
  private readonly placements = new Map<Digest, Promise<string | undefined>>();

  constructor(
    private readonly placement: BlobPlacement,
    private readonly source: RegistryClient,
    /** Bounds transfers; taken only around the transfer so that waiting for another placement holds no slot. */
    private readonly limit: ReturnType<typeof limiter>,
  ) {}

  async copy(blob: Descriptor, kind: 'layer' | 'config', sourceRepository: string, targetRepository: string): Promise<void> {
    const earlier = this.placements.get(blob.digest);
    const placed = (async () => {
      const holder = await earlier?.catch(() => undefined);
      const source = blobFrom(this.source, sourceRepository, blob);
      const mountFrom = holder !== targetRepository ? holder : undefined;
      await this.limit(() => placeBlob(this.placement, { kind, digest: blob.digest, ...source }, [targetRepository], mountFrom));
      return targetRepository;
    })();
    this.placements.set(blob.digest, placed);
    await placed;
  }
}
