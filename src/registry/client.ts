/**
 * A small OCI distribution client over undici: blobs, manifests, auth and retries. It
 * knows the protocol and nothing about archives or plans.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { type Digest, sha256 } from '../oci/digest.js';
import { manifestAccept } from '../oci/media-types.js';
import { Authenticator, type Credentials } from './auth.js';
import { connectionError, RegistryError } from './errors.js';

export interface RegistryOptions {
  /** `host[:port]`. */
  host: string;
  plainHttp?: boolean;
  /** HTTPS without certificate verification. */
  insecure?: boolean;
  /** Extra CA certificates (PEM) to trust. */
  caFile?: string;
  credentials?: Credentials;
  /** Attempts after the first for failures that may pass (5xx, 429, resets). */
  retries?: number;
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Call {
  method: Method;
  /** A `/v2/…` path or an absolute URL (upload locations). */
  url: string;
  scopes: string[];
  headers?: Record<string, string>;
  /** Called once per attempt so that a retry can send the body again. */
  body?: () => Buffer | Readable;
  /** Statuses that are answers, not failures. */
  ok: number[];
  /** Hand a 200's body back unread, as `stream` (blobs can be gigabytes). */
  stream?: boolean;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  stream?: Readable;
}

/** Largest manifest or config read back (the spec suggests registries accept at least 4 MiB). */
const maxDocumentBytes = 16 * 1024 * 1024;
const retryableStatuses = new Set([408, 429, 500, 502, 503, 504]);
const redirectStatuses = [301, 302, 303, 307, 308];
const maxRedirects = 5;

export const pullScope = (repo: string): string => `repository:${repo}:pull`;
export const pushScope = (repo: string): string => `repository:${repo}:pull,push`;

export class RegistryClient {
  readonly host: string;
  private readonly base: string;
  private readonly dispatcher: Agent;
  private readonly auth: Authenticator;
  private readonly retries: number;
  private readonly plainHttp: boolean;

  constructor(options: RegistryOptions) {
    this.host = options.host;
    this.plainHttp = options.plainHttp ?? false;
    this.base = `${this.plainHttp ? 'http' : 'https'}://${options.host}`;
    this.retries = options.retries ?? 4;
    this.dispatcher = new Agent({
      connect: {
        rejectUnauthorized: !options.insecure,
        ca: options.caFile ? readFileSync(options.caFile) : undefined,
      },
      headersTimeout: 120_000,
      bodyTimeout: 300_000,
      keepAliveTimeout: 30_000,
    });
    this.auth = new Authenticator(options.host, this.dispatcher, options.credentials);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** Checks that the registry answers the distribution API (and learns its auth scheme). */
  async ping(): Promise<void> {
    await this.call({ method: 'GET', url: '/v2/', scopes: [], ok: [200] });
  }

  /** The blob's size when `repo` has it. */
  async blobSize(repo: string, digest: Digest): Promise<number | undefined> {
    const res = await this.call({ method: 'HEAD', url: `/v2/${repo}/blobs/${digest}`, scopes: [pullScope(repo)], ok: [200, 404] });
    return res.status === 200 ? Number(res.headers['content-length'] ?? -1) : undefined;
  }

  async getBlob(repo: string, digest: Digest): Promise<Buffer> {
    return readCapped(await this.openBlob(repo, digest), maxDocumentBytes);
  }

  /** The blob's bytes as a stream (consume or destroy it), following a redirect to the registry's storage. */
  async openBlob(repo: string, digest: Digest): Promise<Readable> {
    const url = `/v2/${repo}/blobs/${digest}`;
    const res = await this.call({ method: 'GET', url, scopes: [pullScope(repo)], ok: [200, ...redirectStatuses], stream: true });
    return res.stream ?? this.followRedirects(url, res);
  }

  /** Cross-repository mount; false when the registry opened an upload instead. */
  async mountBlob(repo: string, digest: Digest, fromRepo: string): Promise<boolean> {
    const res = await this.call({
      method: 'POST',
      url: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepo)}`,
      scopes: [pushScope(repo), pullScope(fromRepo)],
      ok: [201, 202],
    });
    if (res.status === 202) await this.cancelUpload(repo, res);
    return res.status === 201;
  }

  /** Uploads a blob in one PUT after opening a session; `open` may be called again on retry. */
  async uploadBlob(repo: string, digest: Digest, size: number, open: () => Buffer | Readable): Promise<void> {
    const scopes = [pushScope(repo)];
    for (let attempt = 0; ; attempt++) {
      const session = await this.call({ method: 'POST', url: `/v2/${repo}/blobs/uploads/`, scopes, ok: [202] });
      const location = this.uploadLocation(session, digest);
      try {
        await this.call({
          method: 'PUT',
          url: location,
          scopes,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
          body: open,
          ok: [201],
        });
        return;
      } catch (err) {
        // A session lost mid-upload cannot be resumed by repeating the PUT: start a new one.
        if (!(err instanceof RegistryError && err.status === 404 && attempt < this.retries)) throw err;
      }
    }
  }

  async getManifest(repo: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.call({
      method: 'GET',
      url: `/v2/${repo}/manifests/${reference}`,
      scopes: [pullScope(repo)],
      headers: { accept: manifestAccept },
      ok: [200, 404],
    });
    if (res.status === 404) return undefined;
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    return { bytes: res.body, mediaType, digest: sha256(res.body) };
  }

  async putManifest(repo: string, reference: string, manifest: Manifest): Promise<void> {
    await this.call({
      method: 'PUT',
      url: `/v2/${repo}/manifests/${reference}`,
      scopes: [pushScope(repo)],
      headers: { 'content-type': manifest.mediaType },
      body: () => manifest.bytes,
      ok: [201],
    });
  }

  /** Storage behind a redirect gets no Authorization header: its signed URL is the credential. */
  private async followRedirects(from: string, res: Response): Promise<Readable> {
    let location = headerText(res.headers.location);
    let base = this.base + from;
    for (let hop = 0; hop < maxRedirects; hop++) {
      if (!location) throw new RegistryError(`registry ${this.host} redirected GET ${from} without a Location`);
      const url = new URL(location, base);
      const next = await request(url, { headers: { 'user-agent': 'airlift' }, dispatcher: this.dispatcher }).catch((err: unknown) => {
        throw connectionError(url.host, err, url.protocol === 'http:');
      });
      if (next.statusCode === 200) return next.body;
      await next.body.dump();
      if (!redirectStatuses.includes(next.statusCode)) {
        throw new RegistryError(
          `blob storage ${url.host} answered ${next.statusCode} to GET ${from} of registry ${this.host}`,
          next.statusCode,
        );
      }
      location = headerText(next.headers.location);
      base = url.toString();
    }
    throw new RegistryError(`registry ${this.host} redirected GET ${from} more than ${maxRedirects} times`);
  }

  private uploadLocation(session: Response, digest: Digest): string {
    const location = session.headers.location;
    if (typeof location !== 'string') throw new RegistryError(`registry ${this.host} opened an upload without a Location`);
    const url = new URL(location, this.base);
    url.searchParams.set('digest', digest);
    return url.toString();
  }

  private async cancelUpload(repo: string, session: Response): Promise<void> {
    const location = session.headers.location;
    if (typeof location !== 'string') return;
    await this.call({
      method: 'DELETE',
      url: new URL(location, this.base).toString(),
      scopes: [pushScope(repo)],
      ok: [200, 202, 204, 404],
    }).catch(() => {});
  }

  /** One logical request: auth challenges answered, transient failures retried with backoff. */
  private async call(call: Call): Promise<Response> {
    let authRetried = false;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.send(call);
      } catch (err) {
        if (err instanceof RegistryError || attempt >= this.retries) throw connectionErrorOr(err, this.host, this.plainHttp);
        await backoff(attempt);
        continue;
      }
      if (res.status === 401 && !authRetried) {
        authRetried = true;
        if (this.auth.onUnauthorized(headerText(res.headers['www-authenticate']), call.scopes)) {
          attempt--;
          continue;
        }
      }
      if (call.ok.includes(res.status)) return res;
      if (retryableStatuses.has(res.status) && attempt < this.retries) {
        await backoff(attempt, headerText(res.headers['retry-after']));
        continue;
      }
      throw this.failure(call, res);
    }
  }

  private async send(call: Call): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'airlift', ...call.headers };
    const authorization = await this.auth.header(call.scopes);
    if (authorization) headers.authorization = authorization;
    const url = call.url.startsWith('/') ? this.base + call.url : call.url;
    const res = await request(url, {
      method: call.method,
      headers,
      body: call.body?.(),
      dispatcher: this.dispatcher,
    });
    if (call.stream && res.statusCode === 200) return { status: 200, headers: res.headers, body: Buffer.alloc(0), stream: res.body };
    const body = call.method === 'HEAD' ? Buffer.alloc(0) : await readCapped(res.body, maxDocumentBytes);
    return { status: res.statusCode, headers: res.headers, body };
  }

  private failure(call: Call, res: Response): RegistryError {
    const what = `${call.method} ${call.url.startsWith('/') ? call.url : new URL(call.url).pathname}`;
    let code: string | undefined;
    let detail = '';
    try {
      const parsed = JSON.parse(res.body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
      code = parsed.errors?.[0]?.code;
      detail = parsed.errors?.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ') ?? '';
    } catch {
      detail = res.body.toString('utf8', 0, 200).trim();
    }
    const hint =
      res.status === 401 || res.status === 403
        ? ': check the credentials and that the account may push to this repository'
        : res.status === 413
          ? ': a proxy in front of the registry limits request sizes'
          : '';
    return new RegistryError(
      `registry ${this.host} answered ${res.status} to ${what}${detail ? ` (${detail})` : ''}${hint}`,
      res.status,
      code,
    );
  }
}

function connectionErrorOr(err: unknown, host: string, plainHttp: boolean): Error {
  return err instanceof RegistryError ? err : connectionError(host, err, plainHttp);
}

const headerText = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** Exponential backoff with full jitter, or what the server asked for in Retry-After. */
async function backoff(attempt: number, retryAfter?: string): Promise<void> {
  const asked = retryAfter !== undefined ? Number(retryAfter) * 1000 : NaN;
  const delay = Number.isFinite(asked) ? Math.min(asked, 30_000) : Math.random() * Math.min(200 * 2 ** attempt, 10_000);
  await sleep(delay);
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > cap) {
      body.destroy();
      throw new RegistryError(`registry response larger than ${cap} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
