/** The tests' registry (see scripts/lib/registry.ts), plus a tiny CA and client certificates for the TLS cases. */
import { join } from 'node:path';
import { runOrThrow } from '../../scripts/lib/process.js';

export { startRegistry, type Registry, type RegistryOptions } from '../../scripts/lib/registry.js';

/**
 * Writes a CA and a server certificate for 127.0.0.1 and localhost into `dir`. The file names
 * avoid `.key`/`.cert` so that `dir` also works as a skopeo `--cert-dir` (which would otherwise
 * read them as a client key pair) with `ca.crt` trusted.
 */
export async function makeTestCA(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca-key.pem');
  const certFile = join(dir, 'server-cert.pem');
  const keyFile = join(dir, 'server-key.pem');
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runOrThrow('openssl', [
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    caKeyFile,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    '/CN=airlift test CA',
  ]);
  const csr = await runOrThrow('openssl', [
    'req',
    '-new',
    ...newKey,
    '-keyout',
    keyFile,
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  await runOrThrow(
    'openssl',
    ['x509', '-req', '-CA', caFile, '-CAkey', caKeyFile, '-set_serial', '1', '-days', '2', '-copy_extensions', 'copyall', '-out', certFile],
    { input: csr },
  );
  return { caFile, certFile, keyFile };
}

/** A client certificate (`client.cert`, `client.key` in `dir`) from the test CA that makeTestCA wrote into `caDir`. */
export async function makeClientCert(caDir: string, dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, 'client.cert');
  const keyFile = join(dir, 'client.key');
  const csr = await runOrThrow('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-subj',
    '/CN=airlift test client',
    '-addext',
    'extendedKeyUsage=clientAuth',
  ]);
  await runOrThrow(
    'openssl',
    [
      'x509',
      '-req',
      '-CA',
      join(caDir, 'ca.crt'),
      '-CAkey',
      join(caDir, 'ca-key.pem'),
      '-set_serial',
      '2',
      '-days',
      '2',
      '-copy_extensions',
      'copyall',
      '-out',
      certFile,
    ],
    { input: csr },
  );
  return { certFile, keyFile };
}
