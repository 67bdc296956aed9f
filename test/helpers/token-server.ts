/**
 * A small token server for Distribution's `auth: token` (the Docker token spec): it checks
 * Basic credentials (or an OAuth2 refresh token, POSTed as docker does with an identity
 * token) and answers short-lived RS256 JWTs granting what was asked. The signing key's
 * self-signed certificate goes into the registry's `rootcertbundle`; tokens carry it in
 * `x5c`, which is how Distribution 2.8 finds the key.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runOrThrow } from './tools.js';

/** Distribution accepts a token until 60 s after its `exp` (clock-skew leeway). */
const registryLeewayS = 60;

export interface TokenServerOptions {
  users: Record<string, string>;
  /** Identity tokens (refresh tokens) → user. */
  refreshTokens?: Record<string, string>;
}

export interface IssuedToken {
  user: string;
  scopes: string[];
  grant: 'password' | 'refresh_token';
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** The signing key's certificate, for the registry's `rootcertbundle`. */
  certFile: string;
  issued: IssuedToken[];
  /**
   * How long the user's tokens (everyone's, when no user is named) really last, and what
   * `expires_in` says: a registry may cut tokens short, so a client cannot trust expires_in alone.
   */
  setLifetime(lifetimeS: number, claimedS?: number, user?: string): void;
  stop(): Promise<void>;
}

export async function startTokenServer(dir: string, options: TokenServerOptions): Promise<TokenServer> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'token-signing-key.pem');
  const certFile = join(dir, 'token-signing-cert.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await runOrThrow('openssl', ['req', '-x509', '-key', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=airlift test token issuer']);
  const certDer = (await readFile(certFile, 'utf8')).replace(/-----[^-]+-----|\s/g, '');

  const service = 'airlift-test-registry';
  const issuer = 'airlift-test-issuer';
  const everyone = '';
  const lifetimes = new Map([[everyone, { real: 300, claimed: 300 }]]);
  const issued: IssuedToken[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://token');
    let user: string | undefined;
    let scopes = url.searchParams.getAll('scope');
    let grant: IssuedToken['grant'] = 'password';
    if (req.method === 'POST') {
      const form = new URLSearchParams(await bodyText(req));
      grant = 'refresh_token';
      if (form.get('grant_type') === 'refresh_token') user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    } else {
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      const [name, password] = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(/:(.*)/s) : [];
      if (name !== undefined && options.users[name] === password) user = name;
    }
    if (!user) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ details: 'incorrect username or password' }));
    }
    issued.push({ user, scopes, grant });
    const lifetime = lifetimes.get(user) ?? lifetimes.get(everyone)!;
    const token = jwt(privateKey, certDer, {
      iss: issuer,
      sub: user,
      aud: service,
      ...times(lifetime.real),
      jti: randomUUID(),
      access: scopes.map(parseScope),
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: lifetime.claimed, issued_at: new Date().toISOString() }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    issued,
    setLifetime(real, claimed = real, user = everyone) {
      if (user === everyone) lifetimes.clear();
      lifetimes.set(user, { real, claimed });
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `exp` set so that the registry's leeway ends the token exactly `lifetimeS` from now. */
function times(lifetimeS: number): { iat: number; nbf: number; exp: number } {
  const now = Math.floor(Date.now() / 1000);
  return { iat: now, nbf: now - 1, exp: now + lifetimeS - registryLeewayS };
}

/** `repository:rancher/pause:pull,push` → the token's access entry; this server grants everything asked. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } {
  const [type, ...rest] = scope.split(':');
  const actions = rest.pop() ?? '';
  return { type: type!, name: rest.join(':'), actions: actions.split(',').filter(Boolean) };
}

function jwt(key: KeyObject, certDer: string, claims: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = `${encode({ typ: 'JWT', alg: 'RS256', x5c: [certDer] })}.${encode(claims)}`;
  return `${signed}.${sign('sha256', Buffer.from(signed), key).toString('base64url')}`;
}

async function bodyText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
