/**
 * Blob uploads (the distribution spec's "pushing blobs") behind one entry point, in three
 * strategies:
 * - stream: POST, one PATCH with the whole blob, PUT ?digest — what `docker push` does; the
 *   default, except for blobs of at most 64 KiB (configs, small layers), sent monolithic;
 * - chunked: PATCHes with `Content-Range`, `--chunk-size` bytes each (at least the registry's
 *   `OCI-Chunk-Min-Length`), for proxies that cap request bodies (nginx 413, Cloudflare 100 MB);
 * - monolithic: POST, then PUT ?digest with the whole blob, for registries that refuse PATCH.
 * What the registry refuses is learned once per run: a 413 turns uploads into (smaller)
 * chunks, a refused chunked PATCH back into one stream, a refused PATCH into a single PUT.
 * A transient failure starts a new session after a pause, or continues a chunked session
 * from the offset the registry reports; a failed final PUT first checks whether the blob
 * arrived anyway.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from './errors.js';
import { backoff, headerText, type Response, type Transport } from './transport.js';

/** A blob that can be read again from any offset, so that a failed transfer can be sent again or continued. */
export interface BlobSource {
  size: number;
  /** Bytes [start, end) of the blob; called again for every attempt. */
  read(start: number, end: number): Buffer | Readable;
}

type UploadMode = 'stream' | 'chunked' | 'monolithic';

export interface UploadOptions {
  /** Upload in chunks of this many bytes from the start, instead of after a 413. */
  chunkSize?: number;
  onWarning?: (message: string) => void;
}

const defaultChunkSize = 16 * 1024 * 1024;
/**
 * Blobs up to this size go in the final PUT, as containerd sends every blob: one round trip
 * fewer than a PATCH and a PUT, on every tag's way (its configs).
 */
const monolithicMax = 64 * 1024;
/** The smallest chunk tried when a proxy keeps answering 413. */
const minChunkSize = 64 * 1024;
/** The final PUT may make the registry hash or copy the whole blob (S3 back ends): allow it time. */
const commitTimeoutMs = 15 * 60_000;
/** Codes of a session the registry lost or whose content went wrong: only a new session helps. */
const brokenSessionCodes = new Set(['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'DIGEST_INVALID']);
/** Statuses of a registry that does not accept a kind of request at all. */
const refusedStatuses = new Set([400, 405, 415, 501]);

interface Session {
  location: string;
  /** Bytes the registry holds in this session. */
  offset: number;
  /** The registry's `OCI-Chunk-Min-Length`. */
  minChunk: number;
  stage: 'data' | 'commit';
}

/** Carry on in the same session, start a new one, or carry on from where the registry says it is. */
type Adaptation = 'same-session' | 'new-session' | 'resynced';

export class Uploader {
  private mode: UploadMode;
  private chunkSize: number;
  /** The smallest request a 413 refused: with it, a registry that also refuses chunks leaves nothing to try. */
  private refusedSize: number | undefined;
  /** Small blobs go monolithic in stream mode until the registry refuses that. */
  private smallMonolithic = true;

  constructor(
    private readonly transport: Transport,
    private readonly options: UploadOptions = {},
  ) {
    this.mode = options.chunkSize ? 'chunked' : 'stream';
    this.chunkSize = options.chunkSize ?? defaultChunkSize;
  }

  /** Uploads the blob into `repo`; returns the bytes sent, those of failed attempts included. */
  async upload(repo: string, digest: Digest, source: BlobSource, scopes: string[]): Promise<number> {
    let sent = 0;
    const count = (bytes: number) => (sent += bytes);
    let session: Session | undefined;
    for (let failures = 0; ;) {
      session ??= await this.open(repo, scopes);
      const mode = this.mode === 'stream' && this.smallMonolithic && source.size <= monolithicMax ? 'monolithic' : this.mode;
      try {
        await this.transfer(mode, session, digest, source, scopes, count);
        return sent;
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        const adaptation = await this.adapt(err, mode, session, source, scopes);
        // A registry whose offsets keep moving must not keep the upload going forever.
        if (adaptation === 'resynced' && failures++ >= this.transport.retries) throw err;
        if (adaptation) {
          if (adaptation === 'new-session') session = undefined;
          continue;
        }
        const broken = brokenSessionCodes.has(err.code ?? '') || err.status === 404;
        if (!(err.transient || broken) || failures >= this.transport.retries) throw err;
        await backoff(failures++);
        if (session.stage === 'commit' && (await this.arrived(repo, digest, source.size, scopes))) return sent;
        session = mode === 'chunked' && !broken ? await this.resume(session, scopes) : undefined;
      }
    }
  }

  private async open(repo: string, scopes: string[]): Promise<Session> {
    const res = await this.transport.call({ method: 'POST', url: `/v2/${repo}/blobs/uploads/`, scopes, ok: [202] });
    const minChunk = Number(headerText(res.headers['oci-chunk-min-length']) ?? 0);
    return { location: this.location(res), offset: 0, minChunk: Number.isSafeInteger(minChunk) ? minChunk : 0, stage: 'data' };
  }

  private async transfer(
    mode: UploadMode,
    session: Session,
    digest: Digest,
    source: BlobSource,
    scopes: string[],
    count: (bytes: number) => void,
  ): Promise<void> {
    if (mode === 'monolithic') return this.commit(session, digest, scopes, source, count);
    session.stage = 'data';
    if (mode === 'stream') {
      await this.patch(session, scopes, source, source.size, false, count);
    } else {
      while (session.offset < source.size) {
        const length = Math.max(this.chunkSize, session.minChunk);
        await this.patch(session, scopes, source, Math.min(session.offset + length, source.size), true, count);
      }
    }
    await this.commit(session, digest, scopes, undefined, count);
  }

  /** Sends bytes [session.offset, end); ECR answers 201 instead of 202. */
  private async patch(
    session: Session,
    scopes: string[],
    source: BlobSource,
    end: number,
    ranged: boolean,
    count: (bytes: number) => void,
  ): Promise<void> {
    const start = session.offset;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(end - start) };
    if (ranged) headers['content-range'] = `${start}-${end - 1}`;
    const res = await this.transport.call({
      method: 'PATCH',
      url: session.location,
      scopes,
      headers,
      body: () => source.read(start, end),
      ok: [202, 201],
      once: true,
      onBodyBytes: count,
    });
    session.location = this.location(res, session.location);
    const reported = rangeEnd(res);
    session.offset = reported !== undefined && reported > start ? reported : end;
  }

  /** The final PUT ?digest=, with the whole blob when monolithic. */
  private async commit(
    session: Session,
    digest: Digest,
    scopes: string[],
    source: BlobSource | undefined,
    count: (bytes: number) => void,
  ): Promise<void> {
    session.stage = source ? 'data' : 'commit';
    const url = new URL(session.location);
    url.searchParams.set('digest', digest);
    await this.transport.call({
      method: 'PUT',
      url: url.toString(),
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(source?.size ?? 0) },
      body: () => (source ? source.read(0, source.size) : Buffer.alloc(0)),
      ok: [201],
      once: true,
      onBodyBytes: source && count,
      responseTimeoutMs: commitTimeoutMs,
    });
  }

  /**
   * Changes strategy when the registry refuses a kind of request rather than failing it.
   * Undefined when the failure is something else.
   */
  private async adapt(
    err: RegistryError,
    mode: UploadMode,
    session: Session,
    source: BlobSource,
    scopes: string[],
  ): Promise<Adaptation | undefined> {
    if (session.stage !== 'data' || brokenSessionCodes.has(err.code ?? '')) return undefined;
    const host = this.transport.host;
    if (err.status === 413) {
      // The proxy refused the request before the registry stored any of it: the session is intact.
      const tried = mode === 'chunked' ? Math.max(this.chunkSize, session.minChunk) : source.size - session.offset;
      const floor = Math.max(minChunkSize, session.minChunk);
      this.refusedSize = Math.min(this.refusedSize ?? tried, tried);
      if (tried <= floor) throw this.sizeLimitError(` even in ${tried}-byte chunks`);
      const before = `${this.mode} ${this.chunkSize}`;
      this.chunkSize = Math.max(Math.min(this.chunkSize, Math.floor(tried / 2)), floor);
      this.mode = 'chunked';
      // Parallel uploads meet the same limit: say it once per new chunk size.
      if (`${this.mode} ${this.chunkSize}` !== before) {
        this.warn(`${host} refused a ${tried}-byte upload request (413): uploading in chunks of ${this.chunkSize} bytes`);
      }
      return 'same-session';
    }
    if (mode === 'chunked' && (err.status === 416 || refusedStatuses.has(err.status ?? 0))) {
      // 416 is also how a registry says the offset moved: believe the registry's own account first.
      if (err.status === 416) {
        const resumed = await this.resume(session, scopes);
        if (resumed && resumed.offset !== session.offset) {
          Object.assign(session, resumed);
          return 'resynced';
        }
      }
      if (this.refusedSize !== undefined) throw this.sizeLimitError(` and refuses chunked uploads (${err.status})`);
      if (this.mode === 'chunked') {
        this.mode = 'stream';
        this.warn(`${host} refused a chunked upload (${err.status}): uploading each blob in one request`);
      }
      return 'new-session';
    }
    if (mode === 'monolithic' && this.mode === 'stream' && refusedStatuses.has(err.status ?? 0)) {
      if (this.smallMonolithic) {
        this.smallMonolithic = false;
        this.warn(`${host} refused a blob in a single PUT (${err.status}): uploading small blobs with a PATCH too`);
      }
      return 'new-session';
    }
    if (mode === 'stream' && refusedStatuses.has(err.status ?? 0)) {
      if (this.mode === 'stream') {
        this.mode = 'monolithic';
        this.warn(`${host} refused a streamed upload (PATCH answered ${err.status}): uploading each blob with a single PUT`);
      }
      return 'new-session';
    }
    return undefined;
  }

  /** Where the registry says the session stands (GET on the upload URL); undefined when it has lost it. */
  private async resume(session: Session, scopes: string[]): Promise<Session | undefined> {
    try {
      const res = await this.transport.call({ method: 'GET', url: session.location, scopes, ok: [204, 200] });
      return { ...session, location: this.location(res, session.location), offset: rangeEnd(res) ?? 0, stage: 'data' };
    } catch {
      return undefined;
    }
  }

  private async arrived(repo: string, digest: Digest, size: number, scopes: string[]): Promise<boolean> {
    const res = await this.transport
      .call({ method: 'HEAD', url: `/v2/${repo}/blobs/${digest}`, scopes, ok: [200, 404] })
      .catch(() => undefined);
    return res?.status === 200 && Number(res.headers['content-length']) === size;
  }

  private location(res: Response, previous?: string): string {
    const location = headerText(res.headers.location);
    if (location) return this.transport.resolve(location);
    if (previous) return previous;
    throw new RegistryError(`registry ${this.transport.host} opened an upload without a Location`);
  }

  private sizeLimitError(why: string): RegistryError {
    return new RegistryError(
      `${this.transport.host} (or a proxy in front of it) refuses upload requests of ${this.refusedSize} bytes${why}: raise the proxy's body limit (nginx: client_max_body_size 0)`,
      413,
    );
  }

  private warn(message: string): void {
    this.options.onWarning?.(message);
  }
}

/** `Range: 0-N` (inclusive) as the offset after it; Distribution sends `0-0` for an empty session. */
function rangeEnd(res: Response): number | undefined {
  const match = /^(?:bytes=)?0-(\d+)$/.exec(headerText(res.headers.range)?.trim() ?? '');
  if (!match) return undefined;
  const last = Number(match[1]);
  return last === 0 ? 0 : last + 1;
}
