/**
 * Loading into tags that already hold something: entries for platforms the run does not
 * bring are kept, those it brings are replaced, `--replace` overwrites, entries that cannot be
 * kept are left out with a warning, and an existing entry that no longer verifies stops the
 * tag from being re-pointed.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import type { Digest } from '../src/oci/digest.js';
import { RegistryClient } from '../src/registry/client.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { runAirlift, skopeo, tempDir } from './helpers/tools.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const bundle = (arch: string) => join(fixtures, `k3s-airgap-images-${arch}.tar.gz`);
const repository = 'rancher/mirrored-pause';

let registry: Registry;
let client: RegistryClient;
let cacheHome: string;
let imageList: string;

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ host: registry.host, plainHttp: true });
  cacheHome = await tempDir('airlift-merge-cache-');
  imageList = join(cacheHome, 'images.txt');
  await writeFile(imageList, 'rancher/mirrored-pause:3.6\n');
});
afterAll(async () => {
  await client?.close();
  await registry?.stop();
});

const load = (namespace: string, ...args: string[]) =>
  runAirlift(['load', '--registry', `${registry.host}/${namespace}`, '--plain-http', '--image-list', imageList, '--json', ...args], {
    env: { XDG_CACHE_HOME: cacheHome, TMPDIR: cacheHome },
  });

/** The tag's index digest and its entries as `platform → manifest digest`. */
async function tagIndex(namespace: string): Promise<{ digest: Digest; entries: Record<string, string> }> {
  const stored = (await client.getManifest(`${namespace}/${repository}`, '3.6'))!;
  const index = JSON.parse(stored.bytes.toString()) as {
    manifests: Array<{ digest: string; platform: { architecture: string; variant?: string } }>;
  };
  const entries = Object.fromEntries(
    index.manifests.map((m) => [[m.platform.architecture, m.platform.variant].filter(Boolean).join('/'), m.digest]),
  );
  return { digest: stored.digest, entries };
}

test('amd64 today and arm64 tomorrow end with both; loading amd64 again changes nothing', async () => {
  expect((await load('merge', bundle('amd64'))).code).toBe(0);
  const first = await tagIndex('merge');
  expect(Object.keys(first.entries)).toEqual(['amd64']);

  expect((await load('merge', bundle('arm64'))).code).toBe(0);
  const both = await tagIndex('merge');
  expect(Object.keys(both.entries)).toEqual(['amd64', 'arm64']);
  expect(both.entries.amd64).toBe(first.entries.amd64);

  expect((await load('merge', bundle('amd64'))).code).toBe(0);
  expect((await tagIndex('merge')).digest).toBe(both.digest);
});

test('--replace overwrites the tag with the platforms of this run only', async () => {
  expect(Object.keys((await tagIndex('merge')).entries)).toEqual(['amd64', 'arm64']);
  const run = await load('merge', '--replace', bundle('arm'));
  expect(run.code).toBe(0);
  expect(Object.keys((await tagIndex('merge')).entries)).toEqual(['arm/v7']);
});

test('a tag holding a single manifest (pushed by skopeo) is merged into an index', async () => {
  const single = `${registry.host}/single/${repository}:3.6`;
  await skopeo([
    'copy',
    '--dest-tls-verify=false',
    `docker-archive:${join(fixtures, 'k3s-airgap-images-amd64.tar')}:${repository}:3.6`,
    `docker://${single}`,
  ]);
  const pushedBySkopeo = (await client.getManifest(`single/${repository}`, '3.6'))!.digest;

  expect((await load('single', bundle('arm64'))).code).toBe(0);
  expect((await tagIndex('single')).entries).toEqual({ amd64: pushedBySkopeo, arm64: expect.stringMatching(/^sha256:/) });
  const verify = await runAirlift([
    'verify',
    '--registry',
    `${registry.host}/single`,
    '--plain-http',
    '--platforms',
    'linux/amd64,linux/arm64',
    `${repository}:3.6`,
  ]);
  expect(verify.stdout).toMatch(/1 of 1 tag\(s\) verified, 0 with problems/);
  expect(verify.code).toBe(0);
});

test('entries of the existing index without a platform, or not descriptors, are left out with a warning (also in the dry run)', async () => {
  expect((await load('odd', bundle('amd64'))).code).toBe(0);
  const { entries } = await tagIndex('odd');
  const stored = JSON.parse((await client.getManifest(`odd/${repository}`, '3.6'))!.bytes.toString()) as { manifests: object[] };
  const amd64 = stored.manifests[0] as { mediaType: string; digest: string; size: number };
  const odd = {
    ...stored,
    manifests: [...stored.manifests, { mediaType: amd64.mediaType, digest: amd64.digest, size: amd64.size }, { digest: amd64.digest }],
  };
  const put = await request(`http://${registry.host}/v2/odd/${repository}/manifests/3.6`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
    body: JSON.stringify(odd),
  });
  await put.body.dump();
  expect(put.statusCode).toBe(201);

  const warning = `${registry.host}/odd/${repository}:3.6: 2 of the 3 entries of the index it holds name no platform or are not descriptors; the new index leaves them out`;
  const dryRun = await load('odd', '--dry-run', bundle('arm64'));
  expect(dryRun.code).toBe(0);
  expect(JSON.parse(dryRun.stdout).warnings).toEqual([warning]);
  expect(dryRun.stderr).toContain(`warning: ${warning}`);
  const run = await load('odd', bundle('arm64'));
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout).warnings).toEqual([warning]);
  expect((await tagIndex('odd')).entries).toEqual({ amd64: entries.amd64, arm64: expect.any(String) });
});

test('an existing entry that no longer verifies leaves the tag unchanged and points to --replace', async () => {
  expect((await load('broken', bundle('amd64'))).code).toBe(0);
  const before = await tagIndex('broken');
  const child = JSON.parse((await client.getManifest(`broken/${repository}`, before.entries.amd64!))!.bytes.toString());
  const res = await request(`http://${registry.host}/v2/broken/${repository}/blobs/${child.layers[0].digest}`, { method: 'DELETE' });
  expect(res.statusCode).toBe(202);
  await res.body.dump();

  const run = await load('broken', bundle('arm64'));
  expect(run.code).toBe(1);
  expect(JSON.parse(run.stdout).failures).toEqual([
    {
      target: `${registry.host}/broken/${repository}:3.6`,
      message: expect.stringMatching(
        /verification failed, tag left unchanged: layer sha256:\w{12} of broken\/rancher\/mirrored-pause@sha256:\w{12} is missing; the tag already held this linux\/amd64 entry: pass --replace/,
      ),
    },
  ]);
  expect((await tagIndex('broken')).digest).toBe(before.digest);

  expect((await load('broken', '--replace', bundle('arm64'))).code).toBe(0);
  expect(Object.keys((await tagIndex('broken')).entries)).toEqual(['arm64']);
});
