/**
 * `airlift verify` against what `airlift load` pushed, then against tags broken on purpose:
 * a deleted blob, an index entry whose platform is not its config's, an entry that is not a
 * descriptor, a missing platform, a tag that is a single manifest, a tag that does not exist.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import type { Digest } from '../src/oci/digest.js';
import { imageIndex } from '../src/oci/manifest.js';
import { RegistryClient } from '../src/registry/client.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { runAirlift, tempDir } from './helpers/tools.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const bundles = ['amd64', 'arm64', 'arm'].map((arch) => join(fixtures, `k3s-airgap-images-${arch}.tar.gz`));
const PAUSE = 'rancher/mirrored-pause:3.6';
const BUSYBOX = 'rancher/mirrored-library-busybox:1.36.1';
const ALL_PLATFORMS = 'linux/amd64,linux/arm64,linux/arm/v7';

interface VerifyJson {
  ok: boolean;
  images: Array<{
    target: string;
    indexDigest?: string;
    platforms: Array<{ platform: string; manifestDigest: string; configDigest: string }>;
    problems: string[];
  }>;
}

let registry: Registry;
let client: RegistryClient;
let imageList: string;

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ host: registry.host, plainHttp: true });
  const dir = await tempDir('airlift-verify-');
  imageList = join(dir, 'images.txt');
  await writeFile(imageList, `# what was loaded\n${PAUSE}\n${BUSYBOX}\n`);
  const load = (namespace: string, archives: string[]) =>
    runAirlift(['load', '--registry', `${registry.host}/${namespace}`, '--plain-http', '--image-list', imageList, ...archives], {
      env: { XDG_CACHE_HOME: dir, TMPDIR: dir },
    });
  const loads = await Promise.all([load('full', bundles), load('amd64-only', bundles.slice(0, 1)), load('broken', bundles)]);
  for (const run of loads) expect(run.code).toBe(0);
});
afterAll(async () => {
  await client?.close();
  await registry?.stop();
});

const verify = (namespace: string, ...args: string[]) =>
  runAirlift(['verify', '--registry', `${registry.host}/${namespace}`, '--plain-http', ...args]);

/** The tag's index entries as `platform → manifest digest`. */
async function entries(repository: string, tag: string): Promise<Record<string, Digest>> {
  const index = JSON.parse((await client.getManifest(repository, tag))!.bytes.toString()) as {
    manifests: Array<{ digest: Digest; platform: { architecture: string; variant?: string } }>;
  };
  return Object.fromEntries(
    index.manifests.map((m) => [[m.platform.architecture, m.platform.variant].filter(Boolean).join('/'), m.digest]),
  );
}

test('what load pushed verifies: a table, exit 0', async () => {
  const run = await verify('full', '--image-list', imageList, '--platforms', ALL_PLATFORMS);
  expect(run.code).toBe(0);
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^TAG\s+STATUS\s+DIGEST\s+PLATFORMS$/);
  for (const image of [PAUSE, BUSYBOX]) {
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^${registry.host}/full/${image}\\s+ok\\s+sha256:\\w{12}\\s+linux/amd64, linux/arm/v7, linux/arm64$`),
      ),
    );
  }
  expect(lines.at(-1)).toBe('2 of 2 tag(s) verified, 0 with problems');
});

test('--json gives every platform with its manifest and config', async () => {
  const run = await verify('full', '--json', '--platforms', ALL_PLATFORMS, PAUSE);
  expect(run.code).toBe(0);
  const result = JSON.parse(run.stdout) as VerifyJson;
  expect(result.ok).toBe(true);
  expect(result.images).toHaveLength(1);
  const [pause] = result.images;
  expect(pause!.target).toBe(`${registry.host}/full/${PAUSE}`);
  expect(pause!.problems).toEqual([]);
  expect(pause!.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  const pushed = await entries(`full/rancher/mirrored-pause`, '3.6');
  for (const p of pause!.platforms) {
    expect(p.manifestDigest).toBe(pushed[p.platform.replace('linux/', '')]);
    expect(p.configDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  }
});

test('--platforms: an index without every expected platform fails; without the option it passes', async () => {
  const run = await verify('amd64-only', '--platforms', ALL_PLATFORMS, PAUSE);
  expect(run.code).toBe(1);
  expect(run.stdout).toMatch(
    new RegExp(
      `${registry.host}/amd64-only/${PAUSE}\\s+FAILED\\s+sha256:\\w{12}\\s+linux/amd64\\n  - missing platform\\(s\\) linux/arm64, linux/arm/v7\\n`,
    ),
  );
  const extra = await verify('full', '--platforms', 'linux/amd64', PAUSE);
  expect(extra.stdout).toMatch(/unexpected platform\(s\) linux\/arm\/v7, linux\/arm64/);
  expect(extra.code).toBe(1);
  expect((await verify('amd64-only', PAUSE)).code).toBe(0);
});

test('a deleted blob is found', async () => {
  const repository = 'broken/rancher/mirrored-library-busybox';
  const arm64 = (await entries(repository, '1.36.1')).arm64!;
  const layer = (JSON.parse((await client.getManifest(repository, arm64))!.bytes.toString()) as { layers: Array<{ digest: Digest }> })
    .layers[0]!.digest;
  const res = await request(`http://${registry.host}/v2/${repository}/blobs/${layer}`, { method: 'DELETE' });
  await res.body.dump();
  expect(res.statusCode).toBe(202);

  const run = await verify('broken', '--json', PAUSE, BUSYBOX);
  expect(run.code).toBe(1);
  const result = JSON.parse(run.stdout) as VerifyJson;
  expect(result.ok).toBe(false);
  expect(result.images.find((i) => i.target.endsWith(PAUSE))!.problems).toEqual([]);
  expect(result.images.find((i) => i.target.endsWith(BUSYBOX))!.problems).toEqual([
    `layer ${layer.slice(0, 19)} of ${repository}@${arm64.slice(0, 19)} is missing`,
  ]);
});

test('an index entry whose platform is not its config platform is found', async () => {
  const repository = 'full/rancher/mirrored-pause';
  const pushed = await entries(repository, '3.6');
  const amd64 = (await client.getManifest(repository, pushed.amd64!))!;
  const mislabelled = imageIndex([
    { mediaType: amd64.mediaType, digest: amd64.digest, size: amd64.bytes.length, platform: { os: 'linux', architecture: 'arm64' } },
  ]);
  await client.putManifest(repository, 'mislabelled', mislabelled);

  const run = await verify('full', 'rancher/mirrored-pause:mislabelled');
  expect(run.code).toBe(1);
  expect(run.stdout).toContain(`  - ${repository}@${amd64.digest.slice(0, 19)} is listed as linux/arm64 but its config says linux/amd64\n`);
});

test('an index entry that is not a descriptor is reported, not skipped', async () => {
  const repository = 'full/rancher/mirrored-pause';
  const pushed = await entries(repository, '3.6');
  const amd64 = (await client.getManifest(repository, pushed.amd64!))!;
  const valid = {
    mediaType: amd64.mediaType,
    digest: amd64.digest,
    size: amd64.bytes.length,
    platform: { os: 'linux', architecture: 'amd64' },
  };
  const sizeless = { mediaType: amd64.mediaType, digest: pushed.arm64!, platform: { os: 'linux', architecture: 'arm64' } };
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [valid, sizeless] };
  const put = await request(`http://${registry.host}/v2/${repository}/manifests/sizeless`, {
    method: 'PUT',
    headers: { 'content-type': index.mediaType },
    body: JSON.stringify(index),
  });
  await put.body.dump();
  expect(put.statusCode).toBe(201);

  const run = await verify('full', '--json', 'rancher/mirrored-pause:sizeless');
  expect(run.code).toBe(1);
  const result = JSON.parse(run.stdout) as VerifyJson;
  expect(result.images[0]!.problems).toEqual(['index entry 2 of 2 is not a descriptor: it needs a mediaType, a sha256 digest and a size']);
  expect(result.images[0]!.platforms.map((p) => p.platform)).toEqual(['linux/amd64']);
});

test('a single-manifest tag and a missing tag are problems too', async () => {
  const run = await verify(
    'full',
    '--json',
    `rancher/mirrored-pause@${(await entries('full/rancher/mirrored-pause', '3.6')).amd64}`,
    'rancher/nope:1',
  );
  expect(run.code).toBe(1);
  const result = JSON.parse(run.stdout) as VerifyJson;
  expect(result.images.map((i) => i.problems)).toEqual([
    ['the tag holds a single image (application/vnd.oci.image.manifest.v1+json), not a multi-platform index'],
    ['the tag does not exist'],
  ]);
});

test('naming no image is a usage error', async () => {
  const run = await verify('full');
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/name the images to verify: REF… or --image-list FILE/);
});
