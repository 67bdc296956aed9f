/**
 * `airlift sync` between real registries: registry A seeded by `airlift load` (eight tags,
 * three platforms each), copied to B whole (index digests identical) and as a platform subset
 * (a new index of exactly those entries), and to a TLS + htpasswd registry with per-side options.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { join } from 'node:path';
import { childDigests, rawManifest, seededImageList, seededImages, seedRegistry, someSeededImages } from './helpers/seed.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import { makeTestCA, startRegistry, type Registry } from './helpers/registry.js';
import { runAirlift, type RunResult, skopeo, tempDir } from './helpers/tools.js';

interface SyncJson {
  images: Array<{
    source: string;
    target: string;
    sourceDigest: string;
    digest: string;
    platforms: Array<{ platform: string; manifestDigest: string }>;
  }>;
  failures: Array<{ target: string; message: string }>;
  warnings: string[];
  bytesCopied: number;
}

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

let a: Registry;
let b: Registry;
let imageList: string;

beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  await seedRegistry(a);
  imageList = await seededImageList();
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** From A; `--dest-plain-http` unless the destination is the TLS registry. */
const syncFromA = (args: string[], input?: string) => runAirlift(['sync', '--from', a.host, '--src-plain-http', ...args], { input });
const plainSync = (args: string[], input?: string) => syncFromA(['--dest-plain-http', ...args], input);

/** Exit code 0, with stderr in the failure message otherwise. */
const expectSuccess = (run: RunResult) => expect(run.code === 0 ? 'exit 0' : run.stderr).toBe('exit 0');

describe('all platforms', () => {
  let first: SyncJson;
  let stderr: string;

  beforeAll(async () => {
    const run = await plainSync(['--to', b.host, '--image-list', imageList, '--json']);
    expectSuccess(run);
    first = JSON.parse(run.stdout) as SyncJson;
    stderr = run.stderr;
  });

  test('every index arrives unchanged: same digest as the source', async () => {
    expect(first.images.map((i) => i.target)).toEqual(seededImages.map((i) => `${b.host}/${i}`));
    for (const image of first.images) {
      expect(image.digest).toBe(image.sourceDigest);
      const name = image.target.slice(b.host.length + 1);
      expect(sha256(await rawManifest(`${b.host}/${name}`))).toBe(sha256(await rawManifest(`${a.host}/${name}`)));
      expect(image.platforms.map((p) => p.platform).sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    }
  });

  test('skopeo reads the synced index and pulls every platform of it, layers included', async () => {
    const ref = `${b.host}/rancher/mirrored-library-traefik:2.9.10`;
    expect(sha256(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]))).toBe(
      first.images.find((i) => i.target === ref)!.sourceDigest,
    );
    const dir = await tempDir('airlift-sync-oci-');
    await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${b.host}/rancher/mirrored-library-traefik:2.9.10`, `oci:${dir}:t`]);
    const config = await skopeo([
      'inspect',
      '--config',
      '--raw',
      '--tls-verify=false',
      '--override-arch',
      'arm64',
      `docker://${b.host}/rancher/mirrored-library-traefik:2.9.10`,
    ]);
    expect(JSON.parse(config).architecture).toBe('arm64');
  });

  test('progress counts N/M, and layers shared between images are mounted, not uploaded again', () => {
    expect(stderr).toContain(`[8/8]`);
    expect(Number(/(\d+) mounted/.exec(stderr)?.[1])).toBeGreaterThan(0);
    expect(first.bytesCopied).toBeGreaterThan(0);
  });

  test('a second sync sends no blob bytes, writes nothing (immutable tags accept it) and leaves the digests as they were', async () => {
    const proxy = await startFaultProxy(b.host);
    try {
      const run = await plainSync(['--to', proxy.host, '--image-list', imageList, '--json']);
      expectSuccess(run);
      const again = JSON.parse(run.stdout) as SyncJson;
      expect(again.bytesCopied).toBe(0);
      expect(again.images.map((i) => i.digest)).toEqual(first.images.map((i) => i.digest));
      expect(proxy.log.filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });
});

describe('a platform subset', () => {
  test('pushes a new index of exactly those platforms, with the original child manifests', async () => {
    const run = await plainSync([
      '--to',
      `${b.host}/subset`,
      '--platform',
      'linux/arm64',
      '--platform',
      'linux/arm/v7',
      '--json',
      ...someSeededImages,
    ]);
    expectSuccess(run);
    const result = JSON.parse(run.stdout) as SyncJson;
    expect(result.images).toHaveLength(someSeededImages.length);
    for (const image of result.images) {
      const name = image.target.slice(`${b.host}/subset/`.length);
      expect(image.digest).not.toBe(image.sourceDigest);
      expect(image.sourceDigest).toBe(sha256(await rawManifest(`${a.host}/${name}`)));
      const source = await childDigests(`${a.host}/${name}`);
      const copied = await childDigests(`${b.host}/subset/${name}`);
      expect(copied).toEqual({ 'linux/arm/v7': source['linux/arm/v7'], 'linux/arm64': source['linux/arm64'] });
      expect(sha256(await rawManifest(`${b.host}/subset/${name}`))).toBe(image.digest);
    }
  });

  test('prints both digests; a platform an image lacks is a warning, none at all a failure', async () => {
    const run = await plainSync(['--to', `${b.host}/one`, '--platform', 'linux/amd64,linux/s390x', 'rancher/mirrored-pause:3.6']);
    expectSuccess(run);
    const source = sha256(await rawManifest(`${a.host}/rancher/mirrored-pause:3.6`));
    const target = sha256(await rawManifest(`${b.host}/one/rancher/mirrored-pause:3.6`));
    expect(run.stdout).toContain(`${target} (subset of ${source})`);
    expect(run.stderr).toMatch(/warning: .*mirrored-pause:3\.6 has no linux\/s390x image/);

    const none = await plainSync(['--to', `${b.host}/none`, '--platform', 'linux/s390x', 'rancher/mirrored-pause:3.6', 'rancher/nope:1']);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/FAILED .*mirrored-pause:3\.6: .*none of the requested platforms/);
    expect(none.stdout).toMatch(/FAILED .*rancher\/nope:1: .*does not exist/);
  });
});

describe('connection options per side', () => {
  let secure: Registry;
  let caFile: string;
  let caDir: string;

  beforeAll(async () => {
    caDir = await tempDir('airlift-sync-ca-');
    const ca = await makeTestCA(caDir);
    caFile = ca.caFile;
    secure = await startRegistry({ tls: ca, htpasswd: { username: 'alice', password: 's3cret' } });
  });
  afterAll(async () => {
    await secure?.stop();
  });

  test('--dest-ca-file with --dest-username/--dest-password-stdin, then --dest-authfile', async () => {
    const login = ['--dest-username', 'alice', '--dest-password-stdin'];
    expectSuccess(await syncFromA(['--to', secure.host, '--dest-ca-file', caFile, ...login, 'rancher/mirrored-pause:3.6'], 's3cret\n'));

    const authfile = join(await tempDir('airlift-auth-'), 'config.json');
    await writeFile(
      authfile,
      JSON.stringify({ auths: { [`https://${secure.host}`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }),
    );
    expectSuccess(
      await syncFromA(['--to', secure.host, '--dest-ca-file', caFile, '--dest-authfile', authfile, 'rancher/klipper-lb:v0.4.4']),
    );

    for (const name of ['rancher/mirrored-pause:3.6', 'rancher/klipper-lb:v0.4.4']) {
      const copied = await skopeo(['inspect', '--raw', '--cert-dir', caDir, '--creds', 'alice:s3cret', `docker://${secure.host}/${name}`]);
      expect(sha256(copied)).toBe(sha256(await rawManifest(`${a.host}/${name}`)));
    }

    const anonymous = await syncFromA(['--to', secure.host, '--dest-ca-file', caFile, 'rancher/mirrored-pause:3.6']);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(
      /requires a user name and password: pass --dest-username and --dest-password-stdin, use --dest-authfile/,
    );
  });

  test('every message names the flag of its side, also those raised before the first request (an unreadable CA file)', async () => {
    const run = await syncFromA(['--to', secure.host, '--dest-ca-file', '/nonexistent/ca.pem', 'rancher/mirrored-pause:3.6']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cannot read --dest-ca-file file /nonexistent/ca.pem');
  });

  test('logins on both sides: the first line of stdin is the source password, the second the destination one', async () => {
    const other = await startRegistry({ htpasswd: { username: 'bob', password: 'hunter2' } });
    try {
      const args = ['sync', '--from', secure.host, '--src-ca-file', caFile, '--src-username', 'alice', '--src-password-stdin'];
      args.push('--to', other.host, '--dest-plain-http', '--dest-username', 'bob', '--dest-password-stdin', 'rancher/mirrored-pause:3.6');
      expectSuccess(await runAirlift(args, { input: 's3cret\nhunter2\n' }));
      const copied = await skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        'bob:hunter2',
        `docker://${other.host}/rancher/mirrored-pause:3.6`,
      ]);
      expect(sha256(copied)).toBe(sha256(await rawManifest(`${a.host}/rancher/mirrored-pause:3.6`)));
    } finally {
      await other.stop();
    }
  });
});

test('blob reads redirected to storage (as Docker Hub does) are followed without the registry credentials, in ranges for chunked uploads', async () => {
  const storageRequests: Array<{ authorization?: string; range?: string }> = [];
  const proxy = createServer((req, res) => {
    const path = req.url ?? '/';
    const forward = (url: string, headers: IncomingHttpHeaders) =>
      request(url, { method: req.method as 'GET', headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req }).then(
        async (upstream) => {
          res.writeHead(upstream.statusCode, upstream.headers as OutgoingHttpHeaders);
          await pipeline(upstream.body, res);
        },
      );
    if (path.startsWith('/storage/')) {
      const { authorization, range } = req.headers;
      storageRequests.push({ authorization, range });
      return void forward(`http://${a.host}${path.slice('/storage'.length)}`, range ? { range } : {});
    }
    if (req.headers.authorization !== `Basic ${Buffer.from('carol:pw').toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="proxy"' }).end();
    } else if (req.method === 'GET' && /\/blobs\/sha256:/.test(path)) {
      // Another origin (localhost, not 127.0.0.1), as object storage is.
      res.writeHead(307, { location: `http://localhost:${(proxy.address() as AddressInfo).port}/storage${path}` }).end();
    } else {
      void forward(`http://${a.host}${path}`, { ...req.headers, host: a.host, authorization: undefined });
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    const from = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const args = ['sync', '--from', from, '--src-plain-http', '--src-username', 'carol', '--src-password-stdin'];
    // 4 KiB chunks: the destination takes the larger layers in pieces, each read as a range.
    args.push('--to', `${b.host}/redirected`, '--dest-plain-http', '--dest-chunk-size', '4k', 'rancher/klipper-lb:v0.4.4');
    expectSuccess(await runAirlift(args, { input: 'pw\n' }));
    expect(storageRequests.length).toBeGreaterThan(3);
    expect(storageRequests.filter((r) => r.authorization !== undefined)).toEqual([]);
    expect(storageRequests.filter((r) => r.range).length).toBeGreaterThan(1);
    expect(sha256(await rawManifest(`${b.host}/redirected/rancher/klipper-lb:v0.4.4`))).toBe(
      sha256(await rawManifest(`${a.host}/rancher/klipper-lb:v0.4.4`)),
    );
  } finally {
    await new Promise((resolve) => proxy.close(resolve));
  }
});

test('usage errors exit 2', async () => {
  const noImages = await runAirlift(['sync', '--from', 'a:5000', '--to', 'b:5000']);
  expect(noImages.code).toBe(2);
  expect(noImages.stderr).toMatch(/--image-list/);
  const badPlatform = await runAirlift(['sync', '--from', 'a:5000', '--to', 'b:5000', '--platform', 'linux//x', 'x:1']);
  expect(badPlatform.code).toBe(2);
  expect(badPlatform.stderr).toMatch(/invalid platform/);
});
