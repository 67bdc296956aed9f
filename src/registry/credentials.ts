/**
 * Finding the credentials for a registry host the way docker, podman and skopeo do:
 * explicit credentials first, then a containers auth file (`--authfile`,
 * `$REGISTRY_AUTH_FILE`), then the docker config (`$DOCKER_CONFIG/config.json`,
 * `~/.docker/config.json`) with its credential helpers (`credHelpers`, `credsStore`).
 * Secrets found here go into Authorization headers only: no message ever contains one.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token (docker's `identitytoken`), exchanged for access tokens at the token realm. */
  identityToken?: string;
}

export interface CredentialSources {
  /** Given on the command line; wins over every file. */
  credentials?: Credentials;
  /** A containers auth.json (`--authfile`); `$REGISTRY_AUTH_FILE` when not given. */
  authFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** One `auths` entry of docker's config.json and containers' auth.json. */
interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface AuthConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** docker login stores Docker Hub under its v1 index URL. */
const dockerHubKey = 'index.docker.io';
/** A credential helper answers `Username: "<token>"` when the secret is an identity token. */
const identityTokenUser = '<token>';

export async function findCredentials(host: string, sources: CredentialSources): Promise<Credentials | undefined> {
  if (sources.credentials) return sources.credentials;
  const env = sources.env ?? process.env;
  const authFile = sources.authFile ?? env.REGISTRY_AUTH_FILE;
  if (authFile) {
    // An auth file named on purpose must exist; one from the environment may not have been created yet.
    const config = await readAuthConfig(authFile, sources.authFile !== undefined);
    const found = config && fromAuths(config, host, authFile);
    if (found) return found;
  }
  const dockerConfigFile = join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
  const docker = await readAuthConfig(dockerConfigFile, false);
  if (!docker) return undefined;
  const helper = docker.credHelpers?.[host] ?? docker.credHelpers?.[lookupKey(host)] ?? docker.credsStore;
  return (helper && (await fromHelper(helper, host, env))) || fromAuths(docker, host, dockerConfigFile);
}

async function readAuthConfig(file: string, mustExist: boolean): Promise<AuthConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (!mustExist && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigurationError(`cannot read auth file ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as AuthConfig;
  } catch {
    throw new ConfigurationError(`auth file ${file} is not valid JSON: fix it or log in again (docker login / podman login)`);
  }
}

/** `auths` keys are written as `host`, `https://host` or `https://host/v1/`. */
function fromAuths(config: AuthConfig, host: string, file: string): Credentials | undefined {
  const wanted = lookupKey(host);
  const entry = Object.entries(config.auths ?? {}).find(([key]) => lookupKey(key) === wanted)?.[1];
  if (!entry) return undefined;
  if (entry.identitytoken) return { username: '', password: '', identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new ConfigurationError(`the entry for ${host} in ${file} has an "auth" that is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

function lookupKey(key: string): string {
  const host = key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return host === 'docker.io' || host === 'registry-1.docker.io' ? dockerHubKey : host;
}

/**
 * Asks `docker-credential-<helper> get` (the docker credential helper protocol). A helper that
 * is not installed or has nothing for the host yields nothing, so the file entries still count.
 */
async function fromHelper(helper: string, host: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  const output = await new Promise<string | undefined>((resolve, reject) => {
    const child = execFile(program, ['get'], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || /not found/i.test(`${stdout} ${stderr}`)) return resolve(undefined);
      reject(new ConfigurationError(`credential helper ${program} failed for ${host}: ${stderr.trim() || err.message}`));
    });
    child.stdin?.on('error', () => {}); // a helper may exit without reading; its exit status tells why
    child.stdin?.end(host === 'docker.io' ? `https://${dockerHubKey}/v1/` : host);
  });
  if (output === undefined) return undefined;
  let answer: { Username?: string; Secret?: string };
  try {
    answer = JSON.parse(output) as typeof answer;
  } catch {
    throw new ConfigurationError(`credential helper ${program} answered something that is not JSON for ${host}`);
  }
  if (!answer.Secret) return undefined;
  if (answer.Username === identityTokenUser) return { username: '', password: '', identityToken: answer.Secret };
  return { username: answer.Username ?? '', password: answer.Secret };
}
