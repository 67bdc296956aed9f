/**
 * Registry authentication as the distribution spec and Docker's token spec define it: a
 * 401 carries a `WWW-Authenticate` challenge, Basic or Bearer. Bearer tokens are fetched
 * per scope set from the challenge's realm and cached until shortly before they expire.
 */
import { request, type Dispatcher } from 'undici';
import { RegistryError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
}

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

export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Token>();

  constructor(
    private readonly host: string,
    private readonly dispatcher: Dispatcher,
    private readonly credentials: Credentials | undefined,
  ) {}

  /** The Authorization header to send for these scopes, if any is known to be needed. */
  async header(scopes: string[]): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basic();
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(scopes);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  /** Records a 401's challenge; false when retrying cannot help. */
  onUnauthorized(wwwAuthenticate: string | undefined, scopes: string[]): boolean {
    const challenge = parseChallenge(wwwAuthenticate ?? '');
    if (!challenge) return false;
    const hadToken = this.tokens.delete(scopes.join(' '));
    const first = !this.challenge;
    this.challenge = challenge;
    if (challenge.scheme === 'basic') {
      if (!this.credentials) throw this.needsCredentials();
      return first;
    }
    return first || hadToken;
  }

  private basic(): string {
    if (!this.credentials) throw this.needsCredentials();
    const { username, password } = this.credentials;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private needsCredentials(): RegistryError {
    return new RegistryError(
      `registry ${this.host} requires authentication: pass --username and --password-stdin, or log in with docker login`,
      401,
    );
  }

  private async fetchToken(scopes: string[]): Promise<Token> {
    const { realm, service } = this.challenge!.params;
    if (!realm) throw new RegistryError(`registry ${this.host} asked for a Bearer token without naming a realm`);
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = this.basic();
    const started = Date.now();
    const res = await request(url, { headers, dispatcher: this.dispatcher });
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new RegistryError(
        `token server ${url.host} refused the credentials for ${this.host}: check --username/--password-stdin or your docker login`,
        res.statusCode,
      );
    }
    if (res.statusCode !== 200) {
      throw new RegistryError(`token server ${url.host} answered ${res.statusCode} for ${this.host}`, res.statusCode);
    }
    const body = JSON.parse(text) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token ?? body.access_token;
    if (!value) throw new RegistryError(`token server ${url.host} sent no token for ${this.host}`);
    const lifetimeMs = (body.expires_in && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    return { value, expiresAt: started + Math.max(lifetimeMs - expiryMarginMs, lifetimeMs / 2) };
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
