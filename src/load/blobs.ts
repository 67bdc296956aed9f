/**
 * Getting a blob into every repository that needs it with the fewest bytes sent: HEAD
 * first, upload once, then cross-repository mounts from where it already is.
 */
import type { Digest } from '../oci/digest.js';
import type { RegistryClient } from '../registry/client.js';
import type { BlobSource } from '../registry/upload.js';
import type { BlobAction, EventSink } from './events.js';

export interface BlobPlacement {
  client: RegistryClient;
  emit: EventSink;
  /** Counts blob bytes actually sent, those of failed and repeated attempts included. */
  onUploaded: (bytes: number) => void;
}

export interface Blob extends BlobSource {
  kind: 'layer' | 'config';
  digest: Digest;
}

/**
 * Puts the blob into each repository in turn; the first that gets it is the mount source.
 * `mountFrom` names a repository of the same registry known to hold it already.
 */
export async function placeBlob(ctx: BlobPlacement, blob: Blob, repositories: string[], mountFrom?: string): Promise<void> {
  let holder = mountFrom;
  for (const repository of repositories) {
    const action = await placeInRepository(ctx, blob, repository, holder);
    ctx.emit({ type: 'blob', action, kind: blob.kind, digest: blob.digest, size: blob.size, repository });
    holder ??= repository;
  }
}

async function placeInRepository(ctx: BlobPlacement, blob: Blob, repository: string, holder?: string): Promise<BlobAction> {
  if ((await ctx.client.blobSize(repository, blob.digest)) === blob.size) return 'skipped';
  if (holder && (await ctx.client.mountBlob(repository, blob.digest, holder))) return 'mounted';
  ctx.onUploaded(await ctx.client.uploadBlob(repository, blob.digest, blob));
  return 'uploaded';
}

/** Where a blob already known by digest is, without reading any data: the repositories that lack it. */
export async function mountKnownBlob(ctx: BlobPlacement, blob: Omit<Blob, 'read'>, repositories: string[]): Promise<string[]> {
  let holder: string | undefined;
  const missing: string[] = [];
  const sizes = await Promise.all(repositories.map((repository) => ctx.client.blobSize(repository, blob.digest)));
  for (const [i, repository] of repositories.entries()) {
    if (sizes[i] === blob.size) {
      holder ??= repository;
      ctx.emit({ type: 'blob', action: 'skipped', kind: blob.kind, digest: blob.digest, size: blob.size, repository });
    } else {
      missing.push(repository);
    }
  }
  if (!holder) return missing;
  const stillMissing: string[] = [];
  for (const repository of missing) {
    if (await ctx.client.mountBlob(repository, blob.digest, holder)) {
      ctx.emit({ type: 'blob', action: 'mounted', kind: blob.kind, digest: blob.digest, size: blob.size, repository });
    } else {
      stillMissing.push(repository);
    }
  }
  return stillMissing;
}
