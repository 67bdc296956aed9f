/** The small pure pieces of the registry layer: backoff, challenges, sizes, credential and TLS file rules. */
import { describe, expect, test } from '@jest/globals';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { parseSize } from '../src/cli/options.js';
import { parseChallenge } from '../src/registry/auth.js';
import { findCredentials } from '../src/registry/credentials.js';
import { resolveTls } from '../src/registry/tls.js';
import { backoffDelay } from '../src/registry/transport.js';
import { tempDir } from './helpers/tools.js';

describe('backoff', () => {
  test('grows exponentially, with jitter in the upper half, capped', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const full = Math.min(500 * 2 ** attempt, 30_000);
      const delay = backoffDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
    }
  });

  test('follows Retry-After in seconds or as a date, within the cap', () => {
    expect(backoffDelay(0, '2')).toBe(2000);
    expect(backoffDelay(0, '3600')).toBe(30_000);
    const date = new Date(Date.now() + 5000).toUTCString();
    expect(backoffDelay(0, date)).toBeGreaterThan(3000);
    expect(backoffDelay(0, date)).toBeLessThanOrEqual(5000);
    expect(backoffDelay(3, 'soon')).toBeGreaterThanOrEqual(2000);
  });
});

test('WWW-Authenticate challenges: Bearer with several params, Basic', () => {
  expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual({
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } });
  expect(parseChallenge('Negotiate abc')).toBeUndefined();
});

test('--chunk-size sizes', () => {
  expect(parseSize('1048576', '--chunk-size')).toBe(1048576);
  expect(parseSize('512k', '--chunk-size')).toBe(512 * 1024);
  expect(parseSize('8MiB', '--chunk-size')).toBe(8 * 1024 ** 2);
  expect(parseSize('1GB', '--chunk-size')).toBe(1024 ** 3);
  expect(() => parseSize('lots', '--chunk-size')).toThrow(/--chunk-size must be a size such as 8MiB/);
  expect(() => parseSize('0', '--chunk-size')).toThrow(/--chunk-size/);
});

describe('credential files', () => {
  const env = async (config: object) => {
    const dir = await tempDir('airlift-cfg-');
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    return { HOME: dir, DOCKER_CONFIG: dir };
  };

  test('Docker Hub is looked up under its v1 index URL; other hosts exactly', async () => {
    const hub = await env({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('u:p:with:colons').toString('base64') } } });
    expect(await findCredentials('docker.io', { env: hub })).toEqual({ username: 'u', password: 'p:with:colons' });
    expect(await findCredentials('registry.local:5000', { env: hub })).toBeUndefined();
  });

  test('a broken entry or file is an error that names the file, never the secret', async () => {
    const bad = await env({ auths: { 'reg:5000': { auth: Buffer.from('no-colon-secret').toString('base64') } } });
    await expect(findCredentials('reg:5000', { env: bad })).rejects.toThrow(
      /entry for reg:5000 in .*config\.json has an "auth" that is not base64 of user:password/,
    );
    await expect(findCredentials('reg:5000', { env: bad })).rejects.not.toThrow(/no-colon-secret/);
    const dir = await tempDir('airlift-cfg-');
    await writeFile(join(dir, 'config.json'), '{ not json');
    await expect(findCredentials('reg:5000', { env: { DOCKER_CONFIG: dir } })).rejects.toThrow(/is not valid JSON/);
  });
});

describe('TLS files', () => {
  test('a site CA is trusted besides the system roots; a certs.d host directory is found by host:port', async () => {
    const dir = await tempDir('airlift-tls-');
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    await mkdir(join(dir, 'reg.local:5000'));
    await writeFile(join(dir, 'reg.local:5000', 'ca.crt'), pem);
    const tls = await resolveTls('reg.local:5000', { certDir: dir });
    expect(tls.ca).toEqual([...rootCertificates, pem]);
    expect(tls.rejectUnauthorized).toBe(true);
    expect((await resolveTls('other:443', { certDir: dir })).ca).toBeUndefined();
  });

  test('a client certificate without its key is an error saying where the key goes', async () => {
    const dir = await tempDir('airlift-tls-');
    await writeFile(join(dir, 'client.cert'), 'x');
    await expect(resolveTls('reg:5000', { certDir: dir })).rejects.toThrow(
      /client certificate .*client\.cert has no key: put it in .*client\.key/,
    );
  });
});
