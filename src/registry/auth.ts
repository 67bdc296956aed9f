/**
 * Registry authentication as the distribution spec and Docker's token spec define it: a
 * 401 carries a `WWW-Authenticate` challenge, Basic or Bearer. Bearer tokens are fetched
 * per scope set from the challenge's realm (with Basic credentials, or an identity token
 * as an OAuth2 refresh token) and cached until shortly before they expire; a 401 with a
 * cached token drops it and fetches a new one, so tokens that expire during a long upload
 * do not fail it.
 */
import type { Dispatcher } from 'undici';
import type { Credentials } from './credentials.js';
import { RegistryError } from './errors.js';
import type { FlagNamer } from './flags.js';
import type { Http } from './undici.js';

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

interface Token {
  value: string;
  expiresAt: number;
}

/** Tokens are refreshed this long before the expiry the server announced. */
const expiryMarginMs = 10_000;
/** What the token spec says to assume when the server names no lifetime. */
const defaultLifetimeS = 60;

export class Authenticator {
  private challenge: Challenge | undefined;
  /** Per scope set; a promise so that parallel requests share one token fetch. */
  private readonly tokens = new Map<string, Promise<Token>>();

  constructor(
    private readonly host: string,
    private readonly http: () => Promise<Http>,
    private readonly credentials: Credentials | undefined,
    private readonly flag: FlagNamer,
  ) {}

  /** The Authorization header to send for these scopes, if any is known to be needed. */
  async header(scopes: string[]): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basic();
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    const token = cached && (await cached.catch(() => undefined));
    if (token && token.expiresAt > Date.now()) return `Bearer ${token.value}`;
    // The first caller to find the token missing or stale renews it; the others share that renewal.
    if (this.tokens.get(key) === cached) this.tokens.set(key, this.fetchToken(scopes));
    return `Bearer ${(await this.tokens.get(key)!).value}`;
  }

  /** Records a 401's challenge; false when retrying cannot help. */
  onUnauthorized(wwwAuthenticate: string | undefined, scopes: string[]): boolean {
    const challenge = parseChallenge(wwwAuthenticate ?? '');
    if (!challenge) return false;
    const hadToken = this.tokens.delete(scopes.join(' '));
    const first = !this.challenge;
    this.challenge = challenge;
    if (challenge.scheme === 'basic') {
      if (!this.credentials || this.credentials.identityToken) throw this.needsCredentials();
      return first;
    }
    return first || hadToken;
  }

  private basic(): string {
    if (!this.credentials || this.credentials.identityToken) throw this.needsCredentials();
    const { username, password } = this.credentials;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private needsCredentials(): RegistryError {
    return new RegistryError(
      `registry ${this.host} requires a user name and password: pass ${this.flag('username')} and ${this.flag('password-stdin')}, use ${this.flag('authfile')}, or docker login`,
      401,
    );
  }

  private async fetchToken(scopes: string[]): Promise<Token> {
    const { realm, service } = this.challenge!.params;
    if (!realm) throw new RegistryError(`registry ${this.host} asked for a Bearer token without naming a realm`);
    const url = new URL(realm);
    const started = Date.now();
    let res: Dispatcher.ResponseData;
    try {
      res = await this.requestToken(url, service, scopes);
    } catch (err) {
      throw new RegistryError(
        `cannot reach token server ${url.host} for ${this.host}: ${(err as Error).message}`,
        undefined,
        undefined,
        true,
      );
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new RegistryError(
        `token server ${url.host} refused the credentials for ${this.host}: check ${this.flag('username')}/${this.flag('password-stdin')}, ${this.flag('authfile')} or your docker login`,
        res.statusCode,
      );
    }
    if (res.statusCode !== 200) {
      throw new RegistryError(`token server ${url.host} answered ${res.statusCode} for ${this.host}`, res.statusCode);
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new RegistryError(`token server ${url.host} answered something that is not JSON for ${this.host}`);
    }
    const value = body.token ?? body.access_token;
    if (!value) throw new RegistryError(`token server ${url.host} sent no token for ${this.host}`);
    const lifetimeMs = (body.expires_in && body.expires_in > 0 ? body.expires_in : defaultLifetimeS) * 1000;
    return { value, expiresAt: started + Math.max(lifetimeMs - expiryMarginMs, lifetimeMs / 2) };
  }

  /** GET with Basic credentials (or none), or the OAuth2 refresh-token POST for an identity token. */
  private async requestToken(url: URL, service: string | undefined, scopes: string[]): Promise<Dispatcher.ResponseData> {
    const { request, dispatcher } = await this.http();
    const identityToken = this.credentials?.identityToken;
    if (identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: identityToken, client_id: 'airlift' });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      return request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        dispatcher,
      });
    }
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = this.basic();
    return request(url, { headers, dispatcher });
  }
}

/** Parses `Bearer realm="…",service="…",scope="…"` (and `Basic realm="…"`). */
export function parseChallenge(header: string): Challenge | undefined {
  const match = /^\s*(basic|bearer)\b(.*)$/i.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[2]!.matchAll(/([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[key!.toLowerCase()] = (quoted ?? bare ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme: match[1]!.toLowerCase() as Challenge['scheme'], params };
}
