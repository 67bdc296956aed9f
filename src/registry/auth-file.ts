/**
 * Credentials from the files `docker login` and `podman login` write: an `auths` map keyed by
 * registry host (or URL), each with `auth` = base64("user:password") or username/password.
 * Credential helpers (`credsStore`, `credHelpers`) are not run.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { apiHost } from '../oci/reference.js';
import type { Credentials } from './auth.js';
import { RegistryError } from './errors.js';

/** Where docker and podman keep logins, in the order podman reads them. */
export function defaultAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    env.REGISTRY_AUTH_FILE,
    env.XDG_RUNTIME_DIR && join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'),
    join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json'),
  ].filter((file): file is string => Boolean(file));
}

/**
 * The login for `host` in `authFile`, or else in the first default file that has one. A
 * named file must exist and parse; the default files are skipped when missing or unreadable.
 */
export async function credentialsFromAuthFiles(host: string, authFile?: string): Promise<Credentials | undefined> {
  if (authFile) return findLogin(await readAuthFile(authFile), host, authFile);
  for (const file of defaultAuthFiles()) {
    const auths = await readAuthFile(file).catch(() => undefined);
    const login = auths && findLogin(auths, host, file);
    if (login) return login;
  }
  return undefined;
}

type Auths = Record<string, { auth?: string; username?: string; password?: string } | undefined>;

async function readAuthFile(file: string): Promise<Auths> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new RegistryError(`cannot read auth file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  try {
    const parsed = JSON.parse(text) as { auths?: Auths };
    return parsed.auths ?? {};
  } catch {
    throw new RegistryError(`auth file ${file} is not JSON: fix it, or log in again with docker login`);
  }
}

function findLogin(auths: Auths, host: string, file: string): Credentials | undefined {
  const wanted = apiHost(host.toLowerCase());
  const key = Object.keys(auths).find((k) => apiHost(registryOfKey(k)) === wanted);
  const entry = key === undefined ? undefined : auths[key];
  if (!entry) return undefined;
  if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) throw new RegistryError(`the login for ${key} in ${file} is not base64 of user:password: log in again`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** `https://index.docker.io/v1/` → `index.docker.io`; `reg:5000` stays. */
const registryOfKey = (key: string): string =>
  key
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]!
    .toLowerCase();
