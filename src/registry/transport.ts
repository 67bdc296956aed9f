/**
 * One logical registry request over undici: the Authorization header for its scopes, a
 * 401 answered once with fresh credentials, transient failures (5xx, 429, resets,
 * timeouts) retried with exponential backoff and jitter, and failures turned into
 * RegistryErrors that say what happened.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Authenticator } from './auth.js';
import type { Credentials } from './credentials.js';
import { connectionError, RegistryError } from './errors.js';
import { type FlagNamer, flagNamer } from './flags.js';
import { type Http, loadHttp } from './undici.js';
import type { TlsOptions } from './tls.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Call {
  method: Method;
  /** A `/v2/…` path or an absolute URL (upload locations). */
  url: string;
  scopes: string[];
  headers?: Record<string, string>;
  /** Called once per attempt so that a retry can send the body again. */
  body?: () => Buffer | Readable;
  /** Statuses that are answers, not failures. */
  ok: number[];
  /** No retry on transient failures: the caller recovers at a higher level (upload sessions). */
  once?: boolean;
  /** Request body bytes handed to the network, failed attempts included. */
  onBodyBytes?: (bytes: number) => void;
  /** Longest wait for the response headers once the body is sent, when longer than the default. */
  responseTimeoutMs?: number;
  /** Hand the body of an `ok` answer back unread, as `stream` (blobs can be gigabytes). */
  stream?: boolean;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  stream?: Readable;
}

export interface TransportOptions {
  /** `host[:port]`. */
  host: string;
  plainHttp?: boolean;
  tls?: TlsOptions;
  credentials?: Credentials;
  /** Attempts after the first for transient failures. */
  retries?: number;
  /** Longest silence, in either direction, before a request is given up (and maybe retried). */
  timeoutMs?: number;
  /** Names flags in messages; load's flags by default. */
  flag?: FlagNamer;
}

/** Largest manifest or config read back (the spec suggests registries accept at least 4 MiB). */
const maxDocumentBytes = 16 * 1024 * 1024;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const maxRedirects = 5;
/** Pauses of 0.5, 1, 2, 4, 8 s (±jitter): a registry that restarts within ~15 s does not fail the run. */
const defaultRetries = 5;
const defaultTimeoutMs = 120_000;

export class Transport {
  readonly host: string;
  readonly base: string;
  readonly retries: number;
  private readonly plainHttp: boolean;
  private readonly timeoutMs: number;
  readonly flag: FlagNamer;
  private readonly tls: TlsOptions | undefined;
  private loaded: Promise<Http> | undefined;
  private readonly auth: Authenticator;

  constructor(options: TransportOptions) {
    this.host = options.host;
    this.plainHttp = options.plainHttp ?? false;
    this.base = `${this.plainHttp ? 'http' : 'https'}://${options.host}`;
    this.retries = options.retries ?? defaultRetries;
    this.timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.flag = options.flag ?? flagNamer();
    this.tls = options.tls;
    this.auth = new Authenticator(options.host, () => this.http(), options.credentials, this.flag);
  }

  /** Loads the HTTP client ahead of the first request. */
  prepare(): void {
    void this.http().catch(() => {}); // a failure shows at the first request
  }

  async close(): Promise<void> {
    if (this.loaded) await (await this.loaded).dispatcher.close();
  }

  private http(): Promise<Http> {
    this.loaded ??= loadHttp(this.tls);
    return this.loaded;
  }

  /** The absolute URL of a path or of a Location header, which may be relative. */
  resolve(location: string): string {
    return new URL(location, this.base).toString();
  }

  async call(call: Call): Promise<Response> {
    let authRetried = false;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.send(call);
      } catch (err) {
        const failure = err instanceof RegistryError ? err : connectionError(this.host, err, this.plainHttp, this.timeoutMs, this.flag);
        if (!failure.transient || call.once || attempt >= this.retries) throw failure;
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
      const failure = this.failure(call, res);
      if (!failure.transient || call.once || attempt >= this.retries) throw failure;
      await backoff(attempt, headerText(res.headers['retry-after']));
    }
  }

  private async send(call: Call): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'airlift', ...call.headers };
    const authorization = await this.auth.header(call.scopes);
    if (authorization) headers.authorization = authorization;
    let url = call.url.startsWith('/') ? this.base + call.url : call.url;
    const { request, dispatcher } = await this.http();
    for (let hops = 0; ; hops++) {
      const abort = new AbortController();
      const res = await request(url, {
        method: call.method,
        headers,
        body: call.body && this.watched(call.body(), abort, call.onBodyBytes),
        signal: abort.signal,
        dispatcher,
        headersTimeout: Math.max(this.timeoutMs, call.responseTimeoutMs ?? 0),
        bodyTimeout: this.timeoutMs,
      });
      const location = headerText(res.headers.location);
      const reads = call.method === 'GET' || call.method === 'HEAD';
      if (!reads || !redirectStatuses.has(res.statusCode) || !location || hops >= maxRedirects) {
        if (call.stream && call.ok.includes(res.statusCode)) {
          return { status: res.statusCode, headers: res.headers, body: Buffer.alloc(0), stream: res.body };
        }
        const body = call.method === 'HEAD' ? Buffer.alloc(0) : await readCapped(res.body, maxDocumentBytes);
        return { status: res.statusCode, headers: res.headers, body };
      }
      // Registries on object storage redirect blob reads to it (S3, GCS, a CDN); such URLs carry
      // their own signature and refuse the registry's credentials.
      await res.body.dump();
      url = new URL(location, url).toString();
      if (new URL(url).origin !== new URL(this.base).origin) delete headers.authorization;
    }
  }

  /**
   * Counts a streamed body and aborts the request when the network stops taking it: a link
   * that died without a reset would otherwise hold an upload forever.
   */
  private watched(body: Buffer | Readable, abort: AbortController, onBytes?: (bytes: number) => void): Buffer | Readable {
    if (Buffer.isBuffer(body)) {
      onBytes?.(body.length);
      return body;
    }
    const stalled = new RegistryError(
      `registry ${this.host} took no data for ${this.timeoutMs / 1000} s while receiving an upload: if the link is only slow, raise ${this.flag('timeout')}`,
      undefined,
      undefined,
      true,
    );
    const timer = setTimeout(() => abort.abort(stalled), this.timeoutMs).unref();
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        timer.refresh();
        onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    counter.once('close', () => clearTimeout(timer));
    return pipeline(body, counter, () => {});
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

export const headerText = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** First pause between attempts; it doubles with each attempt up to maxDelayMs. */
const baseDelayMs = 500;
/** Longest pause between attempts, whatever the attempt count or Retry-After says. */
const maxDelayMs = 30_000;

/**
 * Exponential backoff with jitter (half fixed, half random, so that parallel uploads spread
 * out yet every pause grows), or what the server asked for in Retry-After (seconds or a date).
 */
export async function backoff(attempt: number, retryAfter?: string): Promise<void> {
  await sleep(backoffDelay(attempt, retryAfter));
}

export function backoffDelay(attempt: number, retryAfter?: string): number {
  if (retryAfter !== undefined) {
    const asked = /^\s*\d+\s*$/.test(retryAfter) ? Number(retryAfter) * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(asked)) return Math.min(Math.max(asked, 0), maxDelayMs);
  }
  const delay = Math.min(baseDelayMs * 2 ** attempt, maxDelayMs);
  return delay / 2 + (Math.random() * delay) / 2;
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
