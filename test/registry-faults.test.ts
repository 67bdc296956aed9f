/**
 * Uploads through a fault-injecting proxy in front of a real Distribution registry: resets
 * mid-body, 5xx and 429 bursts, body limits (413), registries that refuse chunked PATCH or
 * mounts, ECR's 201 on PATCH, links that go silent. Every load must end verified, or fail
 * with a message that says what to change.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { load, type LoadOptions } from '../src/load/load.js';
import type { LoadEvent } from '../src/load/events.js';
import { writeTestBundle } from './helpers/bundles.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from './helpers/fault-proxy.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { runAirlift, tempDir } from './helpers/tools.js';

let registry: Registry;
let proxy: FaultProxy;
/** One image with a 512 KiB layer of random bytes. */
let bundle: string;
/** Two images in two repositories sharing a base layer. */
let pair: string;

beforeAll(async () => {
  const dir = await tempDir('airlift-faults-');
  bundle = await writeTestBundle(dir, 'big', [{ repoTag: 'test/app:1', kib: 512 }]);
  pair = await writeTestBundle(dir, 'pair', [
    { repoTag: 'test/app:1', kib: 16 },
    { repoTag: 'test/other:1', kib: 16 },
  ]);
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.host);
});
afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});

/** Loads through the proxy with these faults; returns the result and the uploads it reported. */
async function loadWith(namespace: string, faults: FaultRule[], options: Partial<LoadOptions> = {}) {
  proxy.setFaults(faults);
  const events: LoadEvent[] = [];
  const result = await load({
    archives: [bundle],
    registry: `${proxy.host}/${namespace}`,
    plainHttp: true,
    cacheDir: null,
    onEvent: (e) => events.push(e),
    ...options,
  });
  const uploaded = events.flatMap((e) => (e.type === 'blob' && e.action === 'uploaded' ? [e.size] : []));
  return { result, events, uploadedOnce: uploaded.reduce((a, b) => a + b, 0) };
}

const patches = () => proxy.log.filter((r) => r.method === 'PATCH');

test("a tag is pushed as soon as its own layers are in place, while another tag's layer still uploads", async () => {
  const mixed = await writeTestBundle(await tempDir('airlift-faults-'), 'mixed', [
    { repoTag: 'test/quick:1', kib: 16 },
    { repoTag: 'test/slow:1', kib: 1024 },
  ]);
  // The large layer crawls for ~2 s; the small one goes in a single PUT, at full speed.
  const { result, events } = await loadWith('early', [{ method: 'PATCH', minBytes: 512 * 1024, fault: { bytesPerSecond: 512 * 1024 } }], {
    archives: [mixed],
  });
  expect(result.failures).toEqual([]);
  const tagged = events.findIndex((e) => e.type === 'tag' && e.target.endsWith('/early/test/quick:1'));
  const slowLayer = events.findIndex((e) => e.type === 'layer' && e.size > 1024 * 1024);
  expect(tagged).toBeGreaterThanOrEqual(0);
  expect(slowLayer).toBeGreaterThan(tagged);
});

test('the index goes up without a HEAD of its tag: the read that merges with what the tag holds says whether it changes', async () => {
  const tagRequests = () => proxy.log.filter((r) => /\/manifests\/1$/.test(r.url)).map((r) => r.method);
  const first = await loadWith('indexhead', []);
  expect(first.result.failures).toEqual([]);
  expect(tagRequests()).not.toContain('HEAD');
  expect(tagRequests().filter((method) => method === 'PUT')).toHaveLength(1);
  const again = await loadWith('indexhead', []);
  expect(again.result.failures).toEqual([]);
  expect(tagRequests()).not.toContain('PUT');
});

test('connections reset mid-body are retried in new sessions, and the bytes sent again are counted', async () => {
  const { result, uploadedOnce } = await loadWith('resets', [
    { method: 'PATCH', minBytes: 200_000, times: 2, fault: { resetAfterBytes: 100_000 } },
  ]);
  expect(result.failures).toEqual([]);
  expect(patches().filter((r) => r.status === undefined)).toHaveLength(2);
  expect(result.bytesUploaded).toBeGreaterThanOrEqual(uploadedOnce + 2 * 100_000);
});

test('5xx and 429 bursts are retried with backoff, honouring Retry-After', async () => {
  const { result } = await loadWith('bursts', [
    { method: 'HEAD', url: /\/blobs\//, times: 2, fault: { status: 503 } },
    { method: 'POST', url: /\/blobs\/uploads\/$/, times: 1, fault: { status: 429, headers: { 'retry-after': '4' } } },
    { method: 'PUT', url: /\/manifests\//, times: 1, fault: { status: 500 } },
    { method: 'GET', url: /\/manifests\//, times: 1, fault: { status: 502 } },
  ]);
  expect(result.failures).toEqual([]);
  expect(
    proxy.log
      .filter((r) => r.status !== undefined && r.status >= 429)
      .map((r) => r.status)
      .sort(),
  ).toEqual([429, 500, 502, 503, 503]);
  // Backoff alone would stay near 3 s: 4 s or more means Retry-After was followed.
  expect(result.durationMs).toBeGreaterThanOrEqual(4000);
});

test('--retries 0 gives up at the first 503, and says so', async () => {
  proxy.setFaults([{ fault: { status: 503, body: 'maintenance' } }]);
  const run = await runAirlift(['load', '--registry', proxy.host, '--plain-http', '--retries', '0', bundle], {
    env: { XDG_CACHE_HOME: await tempDir('airlift-cache-') },
  });
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/answered 503 to GET \/v2\/ \(maintenance\)/);
  expect(proxy.log).toHaveLength(1);
});

test('a proxy capping bodies at 256 KiB (nginx 413) turns uploads into chunks it accepts', async () => {
  const limit = 256 * 1024;
  const { result } = await loadWith('capped', [{ fault: { maxBodyBytes: limit } }]);
  expect(result.failures).toEqual([]);
  expect(result.warnings.length).toBeGreaterThan(0);
  for (const warning of result.warnings)
    expect(warning).toMatch(/refused a \d+-byte upload request \(413\): uploading in chunks of \d+ bytes/);
  expect(proxy.log.some((r) => r.status === 413)).toBe(true);
  const accepted = patches().filter((r) => r.status === 202);
  expect(accepted.length).toBeGreaterThan(2);
  for (const r of accepted) expect(r.bodyBytes).toBeLessThanOrEqual(limit);
  expect(accepted.filter((r) => r.contentRange).length).toBeGreaterThan(2);
});

test('a registry refusing chunked PATCH: --chunk-size falls back to one streamed PATCH per blob', async () => {
  const { result } = await loadWith(
    'no-chunks',
    [{ method: 'PATCH', ranged: true, fault: { status: 400, body: 'chunked upload not supported' } }],
    {
      chunkSize: 128 * 1024,
    },
  );
  expect(result.failures).toEqual([]);
  expect(result.warnings).toEqual([expect.stringMatching(/refused a chunked upload \(400\): uploading each blob in one request/)]);
  expect(patches().filter((r) => !r.contentRange && r.status === 202).length).toBeGreaterThan(0);
});

test('a chunked upload interrupted by a 503 continues from the offset the registry reports', async () => {
  const chunk = 128 * 1024;
  const third = new RegExp(`^${2 * chunk}-`);
  const { result } = await loadWith('resume-chunks', [{ method: 'PATCH', contentRange: third, times: 1, fault: { status: 503 } }], {
    chunkSize: chunk,
  });
  expect(result.failures).toEqual([]);
  const failed = proxy.log.findIndex((r) => r.status === 503);
  expect(proxy.log.slice(failed + 1, failed + 3).map((r) => [r.method, r.contentRange?.replace(/-.*/, ''), r.status])).toEqual([
    ['GET', undefined, 204],
    ['PATCH', String(2 * chunk), 202],
  ]);
});

test('a chunked session the registry lost after a reset is started again', async () => {
  const chunk = 128 * 1024;
  const third = new RegExp(`^${2 * chunk}-`);
  const { result } = await loadWith(
    'restart-chunks',
    [{ method: 'PATCH', contentRange: third, times: 1, fault: { resetAfterBytes: 50_000 } }],
    {
      chunkSize: chunk,
    },
  );
  expect(result.failures).toEqual([]);
  const cut = proxy.log.findIndex((r) => r.method === 'PATCH' && r.status === undefined);
  expect(proxy.log.slice(cut + 1, cut + 4).map((r) => [r.method, r.contentRange?.replace(/-.*/, ''), r.status])).toEqual([
    ['GET', undefined, 404],
    ['POST', undefined, 202],
    ['PATCH', '0', 202],
  ]);
});

test('a body cap and no chunked uploads: the tag fails with what to change on the proxy', async () => {
  const { result } = await loadWith('stuck', [
    { method: 'PATCH', ranged: true, fault: { status: 400 } },
    { fault: { maxBodyBytes: 256 * 1024 } },
  ]);
  expect(result.images).toEqual([]);
  expect(result.failures[0]?.message).toMatch(
    /refuses upload requests of \d+ bytes and refuses chunked uploads \(400\): raise the proxy's body limit \(nginx: client_max_body_size 0\)/,
  );
});

test('a registry answering PATCH with 201 (ECR) is understood', async () => {
  const { result } = await loadWith('ecr', [{ method: 'PATCH', fault: { rewriteStatus: { from: 202, to: 201 } } }]);
  expect(result.failures).toEqual([]);
  expect(patches().every((r) => r.status === 201)).toBe(true);
});

/** Blob bodies the registry accepted, by how they were sent. */
const blobBodies = () => ({
  inPut: proxy.log.filter((r) => r.method === 'PUT' && /\/blobs\/uploads\//.test(r.url) && r.bodyBytes > 0 && r.status === 201),
  inPatch: patches().filter((r) => r.status === 202),
});

test('blobs of at most 64 KiB (configs) go in the final PUT, one request fewer; larger ones by PATCH', async () => {
  const { result } = await loadWith('monolithic-small', []);
  expect(result.failures).toEqual([]);
  const { inPut, inPatch } = blobBodies();
  expect(inPut.length).toBeGreaterThan(0);
  for (const r of inPut) expect(r.bodyBytes).toBeLessThanOrEqual(64 * 1024);
  expect(inPatch.length).toBeGreaterThan(0);
  for (const r of inPatch) expect(r.bodyBytes).toBeGreaterThan(64 * 1024);
});

test('a registry refusing a blob in a single PUT gets small blobs by PATCH, and says so once', async () => {
  const { result } = await loadWith('no-monolithic', [{ method: 'PUT', url: /\/blobs\/uploads\//, minBytes: 1, fault: { status: 405 } }], {
    archives: [pair],
  });
  expect(result.failures).toEqual([]);
  expect(result.images).toHaveLength(2);
  expect(
    result.warnings.filter((w) => /refused a blob in a single PUT \(405\): uploading small blobs with a PATCH too/.test(w)),
  ).toHaveLength(1);
  const { inPut, inPatch } = blobBodies();
  expect(inPut).toEqual([]);
  expect(inPatch.some((r) => r.bodyBytes <= 64 * 1024)).toBe(true);
});

test('an upload that stops moving is timed out and sent again', async () => {
  const { result } = await loadWith('stall', [{ method: 'PATCH', minBytes: 200_000, times: 1, fault: { stallAfterBytes: 64 * 1024 } }], {
    timeoutMs: 1500,
  });
  expect(result.failures).toEqual([]);
  const large = patches().filter((r) => r.contentLength >= 200_000);
  expect(large.map((r) => r.status)).toEqual([undefined, 202]);
});

test('a registry that stops answering fails the tag after --timeout seconds, and the message names the flag', async () => {
  proxy.setFaults([{ method: 'HEAD', url: /\/blobs\//, fault: { hang: true } }]);
  const cacheHome = await tempDir('airlift-cache-');
  const started = Date.now();
  const args = ['load', '--registry', `${proxy.host}/hung`, '--plain-http', '--json', '--timeout', '1', '--retries', '0', bundle];
  const run = await runAirlift(args, { env: { XDG_CACHE_HOME: cacheHome } });
  expect(run.code).toBe(1);
  expect(JSON.parse(run.stdout).failures[0].message).toMatch(/sent nothing for 1 s .*raise --timeout/);
  expect(Date.now() - started).toBeLessThan(30_000);

  const usage = await runAirlift([...args.slice(0, 5), '--timeout', '0', bundle]);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('--timeout must be a number of seconds > 0');
});

test('blob reads redirected to storage (as registries on S3 do) are followed', async () => {
  const storage = await startFaultProxy(registry.host);
  try {
    const { result } = await loadWith('redirected', [
      { method: 'GET', url: /\/blobs\/sha256:/, fault: { redirectTo: `http://${storage.host}` } },
    ]);
    expect(result.failures).toEqual([]);
    expect(proxy.log.filter((r) => r.status === 307).length).toBeGreaterThan(0);
    expect(storage.log.map((r) => [r.method, r.status])).toContainEqual(['GET', 200]);
  } finally {
    await storage.stop();
  }
});

test('a registry refusing cross-repository mounts gets the shared blob uploaded instead', async () => {
  const { result } = await loadWith('no-mount', [{ method: 'POST', url: /mount=/, fault: { status: 405 } }], { archives: [pair] });
  expect(result.failures).toEqual([]);
  expect(result.images).toHaveLength(2);
  expect(proxy.log.filter((r) => r.url.includes('mount=')).map((r) => r.status)).toEqual([405]);
});

test('a registry that does not say Docker-Content-Digest: manifests are read to compare, and a re-run pushes none', async () => {
  const noDigest: FaultRule[] = [{ method: 'HEAD', url: /\/manifests\//, fault: { withoutHeader: 'docker-content-digest' } }];
  const first = await loadWith('no-digest', noDigest);
  expect(first.result.failures).toEqual([]);
  const again = await loadWith('no-digest', noDigest);
  expect(again.result.failures).toEqual([]);
  const manifests = proxy.log.filter((r) => /\/manifests\//.test(r.url));
  expect(manifests.filter((r) => r.method === 'PUT')).toEqual([]);
  // Each HEAD that found a manifest, but no digest, was followed by a GET of it.
  const found = manifests.filter((r) => r.method === 'HEAD' && r.status === 200);
  expect(found.length).toBeGreaterThan(0);
  expect(manifests.filter((r) => r.method === 'GET').length).toBeGreaterThanOrEqual(found.length);
});
