/**
 * TLS settings for one registry host: extra CAs (`--ca-file`, `*.crt` in a cert dir) are
 * trusted in addition to the system roots, a client key pair (`*.cert` + `*.key`) is
 * presented when the registry asks for one, `--insecure` turns verification off.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { ConfigurationError } from './errors.js';

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

export async function resolveTls(host: string, settings: TlsSettings): Promise<TlsOptions> {
  const extraCAs: string[] = [];
  const options: TlsOptions = { rejectUnauthorized: !settings.insecure };
  if (settings.caFile) extraCAs.push(await readPem(settings.caFile, '--ca-file'));
  if (settings.certDir) {
    const dir = await hostDir(settings.certDir, host);
    const files = (await readdir(dir).catch((err: Error) => fail(`cannot read --cert-dir ${dir}: ${err.message}`))).sort();
    for (const file of files.filter((f) => f.endsWith('.crt'))) extraCAs.push(await readPem(join(dir, file), '--cert-dir'));
    const certFile = files.find((f) => f.endsWith('.cert'));
    if (certFile) {
      const keyFile = certFile.replace(/\.cert$/, '.key');
      if (!files.includes(keyFile)) fail(`client certificate ${join(dir, certFile)} has no key: put it in ${join(dir, keyFile)}`);
      options.cert = await readPem(join(dir, certFile), '--cert-dir');
      options.key = await readPem(join(dir, keyFile), '--cert-dir');
    }
  }
  // Node's `ca` replaces the system roots; a site CA is meant to be trusted as well as them.
  if (extraCAs.length) options.ca = [...rootCertificates, ...extraCAs];
  return options;
}

/** `DIR/host:port` when it exists (the layout of /etc/docker/certs.d), else DIR itself. */
async function hostDir(certDir: string, host: string): Promise<string> {
  const candidate = join(certDir, host);
  const isDir = await stat(candidate).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return isDir ? candidate : certDir;
}

async function readPem(file: string, option: string): Promise<string> {
  return readFile(file, 'utf8').catch((err: Error) => fail(`cannot read ${option} file ${file}: ${err.message}`));
}

function fail(message: string): never {
  throw new ConfigurationError(message);
}
