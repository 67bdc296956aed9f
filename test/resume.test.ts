/**
 * Interrupted loads finish on a re-run, sending only what is missing: the registry is
 * SIGKILLed mid-load and restarted on its data; an image already complete in the registry
 * costs no archive reading even without the blob-info cache; a re-run of a complete load writes
 * nothing, as registries with immutable tags require.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadEvent } from '../src/load/events.js';
import { load } from '../src/load/load.js';
import { verifyImage } from '../src/load/verify.js';
import { RegistryClient } from '../src/registry/client.js';
import { writeTestBundle } from './helpers/bundles.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { runAirlift, skopeo, tempDir } from './helpers/tools.js';

const layerKiB = 512;
const images = ['test/one:1', 'test/two:1', 'test/three:1', 'test/four:1'];

let dir: string;
let registry: Registry;
let proxy: FaultProxy;

beforeAll(async () => {
  dir = await tempDir('airlift-resume-');
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.host);
});
afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});

test('registry SIGKILLed mid-load and restarted: the re-run completes, re-sends only what was missing, and everything verifies', async () => {
  const bundle = await writeTestBundle(
    dir,
    'four',
    images.map((repoTag) => ({ repoTag, kib: layerKiB })),
  );
  const cacheHome = await tempDir('airlift-cache-');
  const run = (retries: string) =>
    runAirlift(['load', '--registry', proxy.host, '--plain-http', '--json', '--concurrency', '1', '--retries', retries, bundle], {
      env: { XDG_CACHE_HOME: cacheHome },
    });

  // One layer at a time at 1 MB/s: the registry dies once two blobs are stored, with the run half done.
  proxy.setFaults([{ method: 'PATCH', fault: { bytesPerSecond: 1024 * 1024 } }]);
  const first = run('0');
  await until(async () => (await storedBlobs(registry.dataDir)) >= 2);
  await registry.kill();
  const interrupted = await first;
  expect(interrupted.code).toBe(1);
  expect(JSON.parse(interrupted.stdout).failures).toHaveLength(images.length);
  const cached = JSON.parse(await readFile(join(cacheHome, 'airlift', 'blob-info.json'), 'utf8'));
  expect(Object.keys(cached).length).toBeGreaterThanOrEqual(1);

  await registry.restart();
  proxy.setFaults([]);
  const rerun = await run('5');
  expect(rerun.code).toBe(0);
  const result = JSON.parse(rerun.stdout) as {
    images: Array<{ target: string; platforms: Array<{ manifestDigest: string }> }>;
    bytesUploaded: number;
  };
  expect(result.images.map((i) => i.target.replace(`${proxy.host}/`, '')).sort()).toEqual([...images].sort());
  // Some layers made it before the kill, so the re-run sends less than the whole set.
  expect(result.bytesUploaded).toBeGreaterThan(0);
  expect(result.bytesUploaded).toBeLessThan(images.length * layerKiB * 1024);

  const client = new RegistryClient({ host: registry.host, plainHttp: true });
  try {
    for (const image of result.images) {
      const repository = image.target.replace(`${proxy.host}/`, '').replace(/:.*/, '');
      const index = JSON.parse((await client.getManifest(repository, '1'))!.bytes.toString('utf8'));
      expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual(image.platforms.map((p) => p.manifestDigest));
      for (const child of index.manifests) expect((await verifyImage(client, repository, child)).problems).toEqual([]);
    }
  } finally {
    await client.close();
  }
  const copy = await tempDir('airlift-copy-');
  await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${registry.host}/test/three:1`, `oci:${copy}:three`]);
});

test('an image already in the registry is not read again, even without the blob-info cache', async () => {
  const big = await writeTestBundle(dir, 'amd64', [{ repoTag: 'test/multi:1', kib: 512 }]);
  const small = await writeTestBundle(dir, 'arm64', [{ repoTag: 'test/multi:1', kib: 64 }], { os: 'linux', architecture: 'arm64' });
  const target = `${registry.host}/again`;
  const first = await load({ archives: [big], registry: target, plainHttp: true, cacheDir: null });
  expect(first.failures).toEqual([]);

  const events: LoadEvent[] = [];
  const second = await load({ archives: [big, small], registry: target, plainHttp: true, cacheDir: null, onEvent: (e) => events.push(e) });
  expect(second.failures).toEqual([]);
  expect(second.images[0]!.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
  // Only the arm64 bundle was read while uploading: the amd64 image's layers were found in the registry.
  const uploading = events.findIndex((e) => e.type === 'phase' && e.phase === 'uploading');
  expect(uploading).toBeGreaterThan(-1);
  const readEvents = events.slice(uploading).flatMap((e) => (e.type === 'read' ? [e] : []));
  const reads = readEvents.map((e) => e.bytes);
  expect(reads.length).toBeGreaterThan(0);
  expect(Math.max(...reads)).toBeLessThanOrEqual((await stat(small)).size);
  expect(new Set(readEvents.map((e) => e.total))).toEqual(new Set([(await stat(small)).size]));
  const uploaded = events.filter((e) => e.type === 'blob' && e.action === 'uploaded' && e.kind === 'layer');
  expect(uploaded).toHaveLength(1);
  expect(second.bytesUploaded).toBeLessThan(100 * 1024);
});

test('a re-run on a loaded registry writes nothing, so immutable tags (refused on any push, as Harbor and ECR do) do not fail it', async () => {
  const amd64 = await writeTestBundle(dir, 'immutable-amd64', [{ repoTag: 'test/fixed:1', kib: 64 }]);
  const arm64 = await writeTestBundle(dir, 'immutable-arm64', [{ repoTag: 'test/fixed:1', kib: 64 }], {
    os: 'linux',
    architecture: 'arm64',
  });
  const options = { archives: [amd64, arm64], registry: `${proxy.host}/immutable`, plainHttp: true, cacheDir: null, archTags: true };
  proxy.setFaults([]);
  const first = await load(options);
  expect(first.failures).toEqual([]);
  const pushed = proxy.log.filter((r) => r.method === 'PUT').map((r) => r.url);
  expect(pushed.filter((url) => /manifests\/1(-|$)/.test(url))).toHaveLength(3); // the index and the two per-arch tags

  const refusal = { status: 412, body: '{"errors":[{"code":"PRECONDITION","message":"the tag is immutable"}]}' };
  proxy.setFaults([{ method: 'PUT', url: /\/manifests\//, fault: refusal }]);
  const again = await load(options);
  expect(again.failures).toEqual([]);
  expect(again.images[0]!.indexDigest).toBe(first.images[0]!.indexDigest);
  expect(proxy.log.filter((r) => !['GET', 'HEAD'].includes(r.method))).toEqual([]);
});

async function storedBlobs(dataDir: string): Promise<number> {
  const root = join(dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256');
  const prefixes = await readdir(root).catch(() => []);
  let count = 0;
  for (const prefix of prefixes) count += (await readdir(join(root, prefix)).catch(() => [])).length;
  return count;
}

async function until(probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
