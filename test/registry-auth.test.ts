/**
 * Credentials and TLS against real Distribution registries: htpasswd (Basic) with every
 * credential source, token auth with a real token server (scopes, identity tokens, tokens
 * expiring during an upload), TLS with a private CA, certs.d directories and client
 * certificates. Secrets must never show in any output, --debug included.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load as loadLibrary } from '../src/load/load.js';
import { RegistryClient } from '../src/registry/client.js';
import { type ConnectionSettings, resolveConnection } from '../src/registry/connection.js';
import { writeTestBundle } from './helpers/bundles.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { makeClientCert, makeTestCA, startRegistry, type Registry } from './helpers/registry.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';
import { runAirlift, tempDir, type RunResult } from './helpers/tools.js';

const user = 'alice';
const password = 'pw-Zq8-never-printed';
const base64 = (text: string) => Buffer.from(text).toString('base64');

let work: string;
/** One image: what most runs need. */
let single: string;
/** Two images sharing a base layer, in two repositories: the second gets it by cross-repository mount. */
let pair: string;
const stoppable: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  work = await tempDir('airlift-auth-');
  single = await writeTestBundle(work, 'single', [{ repoTag: 'test/app:1', kib: 64 }]);
  pair = await writeTestBundle(work, 'pair', [
    { repoTag: 'test/app:1', kib: 96 },
    { repoTag: 'test/other:1', kib: 48 },
  ]);
});
afterAll(async () => {
  for (const thing of stoppable.reverse()) await thing.stop();
});

async function started<T extends { stop(): Promise<void> }>(thing: Promise<T>): Promise<T> {
  const value = await thing;
  stoppable.push(value);
  return value;
}

/** An environment without docker config, auth file or cache of the user running the tests. */
async function cleanEnv(env: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const home = await tempDir('airlift-home-');
  return { HOME: home, DOCKER_CONFIG: join(home, '.docker'), REGISTRY_AUTH_FILE: '', XDG_CACHE_HOME: join(home, '.cache'), ...env };
}

/** `airlift load --json` of the one-image bundle. */
async function cli(registry: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return runAirlift(['load', '--registry', registry, '--json', ...args, single], { input: opts.input, env: await cleanEnv(opts.env) });
}

function expectLoaded(run: RunResult, tags = 1): void {
  if (run.code !== 0) throw new Error(`load failed (${run.code}): ${run.stderr}`);
  expect(JSON.parse(run.stdout).images).toHaveLength(tags);
}

function expectNoSecret(run: RunResult, ...secrets: string[]): void {
  for (const secret of secrets) expect(`${run.stdout}\n${run.stderr}`).not.toContain(secret);
}

/** Resolves the settings as any command does, and checks that the registry answers. */
async function ping(host: string, settings: ConnectionSettings, env?: NodeJS.ProcessEnv): Promise<void> {
  const client = new RegistryClient(await resolveConnection(host, { retries: 0, ...settings }, env ?? (await cleanEnv())));
  try {
    await client.ping();
  } finally {
    await client.close();
  }
}

/** Resolves the settings as any command does, then reads from the registry: a HEAD needs a pull token or credentials. */
async function canRead(host: string, settings: ConnectionSettings, env: NodeJS.ProcessEnv): Promise<boolean> {
  const client = new RegistryClient(await resolveConnection(host, { retries: 0, ...settings }, env));
  try {
    await client.ping();
    return (await client.blobSize('test/app', `sha256:${'0'.repeat(64)}`)) === undefined;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

describe('Basic auth (htpasswd)', () => {
  let registry: Registry;

  beforeAll(async () => {
    registry = await started(startRegistry({ htpasswd: { username: user, password } }));
  });

  test('--username with --password-stdin loads; the password shows nowhere, even with --debug', async () => {
    const run = await cli(`${registry.host}/stdin`, ['--plain-http', '--debug', '--username', user, '--password-stdin'], {
      input: `${password}\n`,
    });
    expectLoaded(run);
    expectNoSecret(run, password, base64(`${user}:${password}`));
  });

  test('a wrong password fails with one line saying what to check, and is never shown', async () => {
    const wrong = 'wrong-pw-Kx3';
    const run = await cli(registry.host, ['--plain-http', '--debug', '--username', user, '--password-stdin'], { input: wrong });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/answered 401 .*check the credentials/);
    expectNoSecret(run, wrong, base64(`${user}:${wrong}`));
  });

  test('without credentials the error says how to give them; --username without --password-stdin is a usage error', async () => {
    const run = await cli(registry.host, ['--plain-http']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/requires a user name and password: pass --username and --password-stdin, use --authfile, or docker login/);
    const usage = await cli(registry.host, ['--plain-http', '--username', user]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--username needs --password-stdin/);
  });

  test('--authfile loads; a missing one stops the run before any archive is read (exit 2)', async () => {
    const authFile = join(await tempDir('airlift-authfile-'), 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { [registry.host]: { auth: base64(`${user}:${password}`) } } }));
    expectLoaded(await cli(`${registry.host}/authfile`, ['--plain-http', '--authfile', authFile]));
    const missing = await cli(registry.host, ['--plain-http', '--authfile', `${authFile}.nope`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read auth file .*auth\.json\.nope/);
    expect(missing.stderr).not.toMatch(/reading archives/);
  });

  test('credential sources: docker config (auth, credHelpers, credsStore), REGISTRY_AUTH_FILE, in docker/podman precedence', async () => {
    const dir = await tempDir('airlift-creds-');
    const goodAuth = { auth: base64(`${user}:${password}`) };
    const badAuth = { auth: base64(`${user}:not-it`) };
    const helper = join(dir, 'docker-credential-airlifttest');
    const asked = join(dir, 'asked');
    await writeFile(
      helper,
      `#!/bin/sh\n[ "$1" = get ] || exit 1\ncat > ${asked}\necho '{"ServerURL":"x","Username":"${user}","Secret":"${password}"}'\n`,
    );
    await chmod(helper, 0o755);
    const dockerConfig = async (name: string, config: object) => {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'config.json'), JSON.stringify(config));
      return join(dir, name);
    };
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { [registry.host]: goodAuth } }));
    const env = (extra: NodeJS.ProcessEnv) => cleanEnv({ PATH: `${dir}:${process.env.PATH}`, ...extra });
    const read = async (settings: ConnectionSettings, extra: NodeJS.ProcessEnv) =>
      canRead(registry.host, { plainHttp: true, ...settings }, await env(extra));

    expect(await read({}, {})).toBe(false);
    const byUrl = await dockerConfig('by-url', { auths: { [`https://${registry.host}/v1/`]: goodAuth } });
    expect(await read({}, { DOCKER_CONFIG: byUrl })).toBe(true);
    const helperFirst = await dockerConfig('helpers', {
      credHelpers: { [registry.host]: 'airlifttest' },
      auths: { [registry.host]: badAuth },
    });
    expect(await read({}, { DOCKER_CONFIG: helperFirst })).toBe(true);
    expect(await readFile(asked, 'utf8')).toBe(registry.host);
    const store = await dockerConfig('store', { credsStore: 'airlifttest', auths: { [registry.host]: {} } });
    expect(await read({}, { DOCKER_CONFIG: store })).toBe(true);
    const absentHelper = await dockerConfig('absent', { credsStore: 'not-installed', auths: { [registry.host]: goodAuth } });
    expect(await read({}, { DOCKER_CONFIG: absentHelper })).toBe(true);
    const wrong = await dockerConfig('wrong', { auths: { [registry.host]: badAuth } });
    expect(await read({}, { DOCKER_CONFIG: wrong })).toBe(false);
    expect(await read({}, { DOCKER_CONFIG: wrong, REGISTRY_AUTH_FILE: authFile })).toBe(true);
    expect(await read({ authFile: join(dir, 'wrong', 'config.json') }, { REGISTRY_AUTH_FILE: authFile })).toBe(false);
    expect(await read({ credentials: { username: user, password } }, { DOCKER_CONFIG: wrong })).toBe(true);
  });
});

describe('TLS', () => {
  let caDir: string;
  let ca: Awaited<ReturnType<typeof makeTestCA>>;
  let registry: Registry;

  beforeAll(async () => {
    caDir = await tempDir('airlift-ca-');
    ca = await makeTestCA(caDir);
    registry = await started(startRegistry({ tls: ca }));
  });

  test('verification is on by default; --ca-file trusts a private CA besides the system roots (as k3s sites use); --insecure skips it', async () => {
    await expect(ping(registry.host, {})).rejects.toThrow(
      /TLS certificate of 127\.0\.0\.1:\d+ is not trusted .*--ca-file or --cert-dir .*--insecure/,
    );
    expectLoaded(await cli(`${registry.host}/ca-file`, ['--ca-file', ca.caFile]));
    await expect(ping(registry.host, { insecure: true })).resolves.toBeUndefined();
    await expect(ping(registry.host, { certDir: caDir })).resolves.toBeUndefined();
  });

  test('--cert-dir: a certs.d tree with ca.crt, client.cert and client.key, for a registry that requires client certificates', async () => {
    const mtls = await started(startRegistry({ tls: { ...ca, clientCAFile: ca.caFile } }));
    const certsD = await tempDir('airlift-certs.d-');
    const hostDir = join(certsD, mtls.host);
    await mkdir(hostDir);
    await writeFile(join(hostDir, 'ca.crt'), await readFile(ca.caFile));
    await makeClientCert(caDir, hostDir);
    await expect(ping(mtls.host, { caFile: ca.caFile })).rejects.toThrow(/requires a client certificate, give it with --cert-dir/);
    expectLoaded(await cli(`${mtls.host}/cert-dir`, ['--cert-dir', certsD]));
  });

  test('without --cert-dir, the host directory in ~/.config/containers/certs.d is used, as podman and skopeo use it', async () => {
    const mtls = await started(startRegistry({ tls: { ...ca, clientCAFile: ca.caFile } }));
    const home = await tempDir('airlift-home-certs-');
    const hostDir = join(home, '.config', 'containers', 'certs.d', mtls.host);
    await mkdir(hostDir, { recursive: true });
    await writeFile(join(hostDir, 'ca.crt'), await readFile(ca.caFile));
    await makeClientCert(caDir, hostDir);
    const env = await cleanEnv({ HOME: home });
    expectLoaded(await cli(`${mtls.host}/certs-d-default`, [], { env }));
    // Another host's directory is not used: the registry at registry.host is not trusted.
    await expect(ping(registry.host, {}, env)).rejects.toThrow(/TLS certificate of .* is not trusted .*\/etc\/docker\/certs\.d\//);
  });
});

describe('token auth (Distribution auth: token)', () => {
  let tokens: TokenServer;
  let registry: Registry;
  let proxy: FaultProxy;
  const identityToken = 'refresh-Yt7-never-printed';

  beforeAll(async () => {
    tokens = await started(
      startTokenServer(work, { users: { [user]: password, bob: password }, refreshTokens: { [identityToken]: user } }),
    );
    registry = await started(startRegistry({ token: tokens }));
    proxy = await started(startFaultProxy(registry.host));
  });

  test('an identity token (docker config) is exchanged as a refresh token; scopes name the mount source; nothing secret is shown', async () => {
    tokens.setLifetime(300);
    const dockerConfig = await tempDir('airlift-identity-');
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { identitytoken: identityToken } } }));
    const run = await runAirlift(['load', '--registry', `${registry.host}/tok`, '--plain-http', '--json', '--debug', pair], {
      env: await cleanEnv({ DOCKER_CONFIG: dockerConfig }),
    });
    expectLoaded(run, 2);
    expectNoSecret(run, identityToken);
    const scopes = tokens.issued.map((t) => t.scopes.join(' '));
    expect(scopes).toContain('repository:tok/test/app:pull,push');
    expect(scopes).toContain('repository:tok/test/other:pull,push repository:tok/test/app:pull');
    expect(tokens.issued.every((t) => t.user === user && t.grant === 'refresh_token')).toBe(true);
  });

  test('a user name and password are exchanged for tokens at the realm; a wrong password is refused there', async () => {
    const before = tokens.issued.length;
    expect(await canRead(registry.host, { plainHttp: true, credentials: { username: user, password } }, await cleanEnv())).toBe(true);
    expect(tokens.issued.slice(before).map((t) => t.grant)).toContain('password');
    expect(await canRead(registry.host, { plainHttp: true, credentials: { username: user, password: 'nope' } }, await cleanEnv())).toBe(
      false,
    );
  });

  test('tokens expiring during a slow upload are renewed: before use when expires_in says so, on 401 when it does not', async () => {
    // Tokens last 2-3 s (Distribution rounds to seconds); the 64 KiB layer takes 4 s. bob's
    // tokens claim an hour, so his client learns of the expiry from the final PUT's 401.
    tokens.setLifetime(3, 3);
    tokens.setLifetime(3, 3600, 'bob');
    proxy.setFaults([{ method: 'PATCH', fault: { bytesPerSecond: 16 * 1024 } }]);
    const before = tokens.issued.length;
    const loadAs = (name: string) =>
      loadLibrary({
        archives: [single],
        registry: `${proxy.host}/${name}`,
        plainHttp: true,
        credentials: { username: name, password },
        cacheDir: null,
      });
    for (const result of await Promise.all([loadAs(user), loadAs('bob')])) expect(result.failures).toEqual([]);
    for (const name of [user, 'bob']) {
      const pushTokens = tokens.issued.slice(before).filter((t) => t.scopes.join(' ') === `repository:${name}/test/app:pull,push`);
      expect(pushTokens.length).toBeGreaterThan(1);
      const finalPutRefused = proxy.log.some(
        (r) => r.status === 401 && r.method === 'PUT' && r.url.startsWith(`/v2/${name}/`) && r.url.includes('digest='),
      );
      expect(finalPutRefused).toBe(name === 'bob');
    }
  });
});
