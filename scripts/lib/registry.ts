/**
 * A throwaway Distribution registry (`docker-registry serve`) on 127.0.0.1, optionally with
 * htpasswd or token auth and TLS (with client certificates): the tests' registry, the demo's
 * and the benchmark's.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { runOrThrow, startDaemon, tempDir, type Daemon } from './process.js';

export interface RegistryOptions {
  htpasswd?: { username: string; password: string };
  /** Distribution's `auth: token`, e.g. with test/helpers/token-server.ts. */
  token?: { realm: string; service: string; issuer: string; certFile: string };
  /** With `clientCAFile`, the registry only talks to clients presenting a certificate from that CA. */
  tls?: { certFile: string; keyFile: string; clientCAFile?: string };
  /** Storage root; kept on stop. Defaults to a temp dir removed on stop. */
  dataDir?: string;
}

export interface Registry {
  /** "127.0.0.1:PORT" */
  host: string;
  port: number;
  dataDir: string;
  /** Stops the registry and removes its temp dirs. */
  stop(): Promise<void>;
  /** SIGKILLs the registry, keeping its files so that `restart` can follow. */
  kill(): Promise<void>;
  /** Starts the registry again (stopping it first if needed) on the same data dir and port. */
  restart(): Promise<void>;
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const workDir = await tempDir('airlift-registry-');
  const dataDir = opts.dataDir ?? join(workDir, 'data');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const v2 = `${opts.tls ? 'https' : 'http'}://${host}/v2/`;

  const launch = async (configFile: string): Promise<Daemon> => {
    const daemon = startDaemon('docker-registry', ['serve', configFile], join(workDir, 'registry.log'));
    await daemon.waitUntil(() => answersV2(v2, Boolean(opts.tls?.clientCAFile)), 15_000);
    return daemon;
  };

  let daemon: Daemon;
  let configFile: string;
  try {
    configFile = await writeConfig(workDir, dataDir, host, opts);
    daemon = await launch(configFile);
  } catch (err) {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  }
  return {
    host,
    port,
    dataDir,
    async stop() {
      await daemon.stop();
      await rm(workDir, { recursive: true, force: true });
    },
    kill: () => daemon.kill(),
    async restart() {
      await daemon.stop();
      daemon = await launch(configFile);
    },
  };
}

/** Runs `fn` against a fresh registry, stopped (and its files removed) afterwards. */
export async function withRegistry<T>(fn: (registry: Registry) => Promise<T>, opts: RegistryOptions = {}): Promise<T> {
  const registry = await startRegistry(opts);
  try {
    return await fn(registry);
  } finally {
    await registry.stop();
  }
}

/** JSON is valid YAML, so the config is written with JSON.stringify. */
async function writeConfig(workDir: string, dataDir: string, addr: string, opts: RegistryOptions): Promise<string> {
  const http: Record<string, unknown> = {
    addr,
    // Upload URLs are signed with this secret; a fixed one keeps them valid across restart().
    secret: randomBytes(16).toString('hex'),
  };
  if (opts.tls) {
    const { certFile, keyFile, clientCAFile } = opts.tls;
    http.tls = { certificate: certFile, key: keyFile, ...(clientCAFile ? { clientcas: [clientCAFile] } : {}) };
  }
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'error', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: dataDir }, delete: { enabled: true } },
    http,
  };
  if (opts.htpasswd) {
    const { username, password } = opts.htpasswd;
    const path = join(workDir, 'htpasswd');
    await writeFile(path, await runOrThrow('htpasswd', ['-Bbn', username, password]));
    config.auth = { htpasswd: { realm: 'airlift-test', path } };
  }
  if (opts.token) {
    const { realm, service, issuer, certFile } = opts.token;
    config.auth = { token: { realm, service, issuer, rootcertbundle: certFile } };
  }
  const file = join(workDir, 'config.yml');
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

/** A port that was free a moment ago: bind port 0, note the port, release it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The registry is up once /v2/ answers, with 401 when auth is on. TLS is not verified here. A
 * registry that requires client certificates closes the connection after the handshake instead.
 */
async function answersV2(url: string, requiresClientCert: boolean): Promise<boolean> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(url, { dispatcher });
    await res.body.dump();
    return res.statusCode === 200 || res.statusCode === 401;
  } catch (err) {
    return requiresClientCert && (err as NodeJS.ErrnoException).code === 'UND_ERR_SOCKET';
  } finally {
    await dispatcher.destroy();
  }
}
