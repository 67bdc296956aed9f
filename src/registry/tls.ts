/**
 * TLS settings for one registry host: extra CAs (`--ca-file`, `*.crt` in a cert dir) are
 * trusted in addition to the system roots, a client key pair (`*.cert` + `*.key`) is
 * presented when the registry asks for one, `--insecure` turns verification off. Without
 * `--cert-dir`, the host's directory is looked up where podman, skopeo and docker look, so a
 * site CA installed for them is trusted here too.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { ConfigurationError } from './errors.js';
import { type FlagNamer, flagNamer } from './flags.js';

export interface TlsSettings {
  /** HTTPS without certificate verification. */
  insecure?: boolean;
  /** PEM file with CA certificates to trust. */
  caFile?: string;
  /**
   * A docker/containerd `certs.d` directory: either the directory of one host (`ca.crt`,
   * `client.cert`, `client.key`) or its parent holding one directory per `host[:port]`.
   */
  certDir?: string;
}

/** What undici's `connect` takes. */
export interface TlsOptions {
  rejectUnauthorized: boolean;
  ca?: string[];
  cert?: string;
  key?: string;
}

/** The certs.d trees searched for `host[:port]` when no `--cert-dir` is given, in the order containers tools search them. */
export const defaultCertsD = (env: NodeJS.ProcessEnv): string[] => [
  join(env.HOME || homedir(), '.config', 'containers', 'certs.d'),
  '/etc/containers/certs.d',
  '/etc/docker/certs.d',
];

export async function resolveTls(
  host: string,
  settings: TlsSettings,
  flag: FlagNamer = flagNamer(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<TlsOptions> {
  const extraCAs: string[] = [];
  const options: TlsOptions = { rejectUnauthorized: !settings.insecure };
  if (settings.caFile) extraCAs.push(await readPem(settings.caFile, flag('ca-file')));
  const certDir = settings.certDir ? await hostDir(settings.certDir, host) : await defaultHostDir(host, env);
  if (certDir) {
    const origin = settings.certDir ? flag('cert-dir') : 'certs.d';
    const files = (await readdir(certDir).catch((err: Error) => fail(`cannot read ${origin} ${certDir}: ${err.message}`))).sort();
    for (const file of files.filter((f) => f.endsWith('.crt'))) extraCAs.push(await readPem(join(certDir, file), origin));
    const certFile = files.find((f) => f.endsWith('.cert'));
    if (certFile) {
      const keyFile = certFile.replace(/\.cert$/, '.key');
      if (!files.includes(keyFile)) fail(`client certificate ${join(certDir, certFile)} has no key: put it in ${join(certDir, keyFile)}`);
      options.cert = await readPem(join(certDir, certFile), origin);
      options.key = await readPem(join(certDir, keyFile), origin);
    }
  }
  // Node's `ca` replaces the system roots; a site CA is meant to be trusted as well as them.
  if (extraCAs.length) options.ca = [...rootCertificates, ...extraCAs];
  return options;
}

/** `DIR/host:port` when it exists (the layout of /etc/docker/certs.d), else DIR itself. */
async function hostDir(certDir: string, host: string): Promise<string> {
  const candidate = join(certDir, host);
  return (await isDirectory(candidate)) ? candidate : certDir;
}

/** The first `host:port` directory in the default certs.d trees, if any. */
async function defaultHostDir(host: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of defaultCertsD(env).map((tree) => join(tree, host))) {
    if (await isDirectory(dir)) return dir;
  }
  return undefined;
}

const isDirectory = (path: string): Promise<boolean> =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );

async function readPem(file: string, option: string): Promise<string> {
  return readFile(file, 'utf8').catch((err: Error) => fail(`cannot read ${option} file ${file}: ${err.message}`));
}

function fail(message: string): never {
  throw new ConfigurationError(message);
}
