/**
 * A small OCI distribution client over undici: blobs, manifests, auth and retries. It
 * knows the protocol and nothing about archives or plans.
 */
import type { Readable } from 'node:stream';
import { type Digest, isDigest, sha256 } from '../oci/digest.js';
import { manifestAccept } from '../oci/media-types.js';
import { RegistryError } from './errors.js';
import { headerText, Transport, type TransportOptions } from './transport.js';
import { type BlobSource, Uploader, type UploadOptions } from './upload.js';

export type RegistryOptions = TransportOptions & UploadOptions;

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export const pullScope = (repo: string): string => `repository:${repo}:pull`;
export const pushScope = (repo: string): string => `repository:${repo}:pull,push`;

/** Answers to a mount request that mean "no mount here", not "stop": the blob is uploaded instead. */
const mountRefusals = new Set([400, 401, 403, 404, 405, 501]);

export class RegistryClient {
  readonly host: string;
  private readonly transport: Transport;
  private readonly uploader: Uploader;
  /** HTTPS without a client certificate: what a registry that closes every connection may want. */
  private readonly mayNeedClientCert: boolean;

  constructor(options: RegistryOptions) {
    this.host = options.host;
    this.mayNeedClientCert = !options.plainHttp && !options.tls?.cert;
    this.transport = new Transport(options);
    this.uploader = new Uploader(this.transport, options);
  }

  /** Loads the HTTP client ahead of the first request: meanwhile, a load reads its archives. */
  prepare(): void {
    this.transport.prepare();
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Checks that the registry answers the distribution API (and learns its auth scheme). */
  async ping(): Promise<void> {
    try {
      await this.transport.call({ method: 'GET', url: '/v2/', scopes: [], ok: [200] });
    } catch (err) {
      // A registry that requires a client certificate closes the connection right after the TLS handshake.
      if (err instanceof RegistryError && this.mayNeedClientCert && /UND_ERR_SOCKET/.test(err.message)) {
        throw new RegistryError(
          `${err.message}; if the registry requires a client certificate, give it with ${this.transport.flag('cert-dir')} (client.cert and client.key)`,
        );
      }
      throw err;
    }
  }

  /** The blob's size when `repo` has it. */
  async blobSize(repo: string, digest: Digest): Promise<number | undefined> {
    const res = await this.transport.call({
      method: 'HEAD',
      url: `/v2/${repo}/blobs/${digest}`,
      scopes: [pullScope(repo)],
      ok: [200, 404],
    });
    return res.status === 200 ? Number(res.headers['content-length'] ?? -1) : undefined;
  }

  async getBlob(repo: string, digest: Digest): Promise<Buffer> {
    const res = await this.transport.call({ method: 'GET', url: `/v2/${repo}/blobs/${digest}`, scopes: [pullScope(repo)], ok: [200] });
    return res.body;
  }

  /**
   * The blob's bytes as a stream (consume or destroy it), for blobs too big to hold; with
   * `range`, bytes [start, end) only, which the registry must serve as a partial answer (206).
   */
  async openBlob(repo: string, digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    const url = `/v2/${repo}/blobs/${digest}`;
    const res = await this.transport.call({
      method: 'GET',
      url,
      scopes: [pullScope(repo)],
      headers: range ? { range: `bytes=${range.start}-${range.end - 1}` } : undefined,
      ok: [range ? 206 : 200],
      stream: true,
    });
    return res.stream!;
  }

  /**
   * Cross-repository mount; false when the registry opened an upload instead (202) or does not
   * mount at all (some refuse the request, or the token grants no pull on `fromRepo`).
   */
  async mountBlob(repo: string, digest: Digest, fromRepo: string): Promise<boolean> {
    let res;
    try {
      res = await this.transport.call({
        method: 'POST',
        url: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepo)}`,
        scopes: [pushScope(repo), pullScope(fromRepo)],
        ok: [201, 202],
      });
    } catch (err) {
      if (err instanceof RegistryError && mountRefusals.has(err.status ?? 0)) return false;
      throw err;
    }
    if (res.status === 202) await this.cancelUpload(repo, res.headers.location);
    return res.status === 201;
  }

  /** Uploads a blob with whatever strategy the registry accepts; returns the bytes sent, retries included. */
  async uploadBlob(repo: string, digest: Digest, source: BlobSource): Promise<number> {
    return this.uploader.upload(repo, digest, source, [pushScope(repo)]);
  }

  async getManifest(repo: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.manifestRequest('GET', repo, reference);
    if (res.status === 404) return undefined;
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    return { bytes: res.body, mediaType, digest: sha256(res.body) };
  }

  /** The digest of what `reference` names in `repo`, or undefined when nothing: HEAD, or GET when the registry does not say. */
  async manifestDigest(repo: string, reference: string): Promise<Digest | undefined> {
    const res = await this.manifestRequest('HEAD', repo, reference);
    if (res.status === 404) return undefined;
    const said = headerText(res.headers['docker-content-digest']);
    return isDigest(said) ? said : (await this.getManifest(repo, reference))?.digest;
  }

  private manifestRequest(method: 'GET' | 'HEAD', repo: string, reference: string) {
    return this.transport.call({
      method,
      url: `/v2/${repo}/manifests/${reference}`,
      scopes: [pullScope(repo)],
      headers: { accept: manifestAccept },
      ok: [200, 404],
    });
  }

  /**
   * Pushes the manifest as `reference` unless that already names exactly it, so that a re-run
   * writes nothing: registries with immutable tags refuse even an identical push.
   */
  async pushManifest(repo: string, reference: string, manifest: Manifest): Promise<void> {
    if ((await this.manifestDigest(repo, reference)) !== manifest.digest) await this.putManifest(repo, reference, manifest);
  }

  async putManifest(repo: string, reference: string, manifest: Manifest): Promise<void> {
    await this.transport.call({
      method: 'PUT',
      url: `/v2/${repo}/manifests/${reference}`,
      scopes: [pushScope(repo)],
      headers: { 'content-type': manifest.mediaType },
      body: () => manifest.bytes,
      ok: [201],
    });
  }

  private async cancelUpload(repo: string, location: string | string[] | undefined): Promise<void> {
    if (typeof location !== 'string') return;
    await this.transport
      .call({ method: 'DELETE', url: this.transport.resolve(location), scopes: [pushScope(repo)], ok: [200, 202, 204, 404] })
      .catch(() => {});
  }
}
