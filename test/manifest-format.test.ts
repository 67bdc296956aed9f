/**
 * `--format docker`: Docker schema2 manifests in a Docker manifest list, read back by
 * skopeo; and no index ever mixes the OCI and Docker families (Quay refuses such indexes).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { load } from '../src/load/load.js';
import { RegistryClient } from '../src/registry/client.js';
import { writeTestBundle } from './helpers/bundles.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { runAirlift, skopeo, tempDir } from './helpers/tools.js';

const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

let registry: Registry;
let amd64: string;
let arm64: string;
let arm: string;

beforeAll(async () => {
  const dir = await tempDir('airlift-format-');
  const image = [{ repoTag: 'test/fmt:1', kib: 32 }];
  amd64 = await writeTestBundle(dir, 'amd64', image);
  arm64 = await writeTestBundle(dir, 'arm64', image, { os: 'linux', architecture: 'arm64' });
  arm = await writeTestBundle(dir, 'arm', image, { os: 'linux', architecture: 'arm', variant: 'v7' });
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

const inspect = async (ref: string) =>
  JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${ref}`]));

test('--format docker pushes Docker schema2 manifests in a manifest list', async () => {
  const run = await runAirlift(['load', '--registry', registry.host, '--plain-http', '--format', 'docker', '--json', amd64, arm64], {
    env: { XDG_CACHE_HOME: await tempDir('airlift-cache-') },
  });
  expect(run.code).toBe(0);
  const list = await inspect('test/fmt:1');
  expect(list.mediaType).toBe(DOCKER_LIST);
  expect(
    list.manifests.map((m: { mediaType: string; platform: { architecture: string } }) => [m.mediaType, m.platform.architecture]),
  ).toEqual([
    [DOCKER_MANIFEST, 'amd64'],
    [DOCKER_MANIFEST, 'arm64'],
  ]);
  const manifest = await inspect(`test/fmt@${list.manifests[1].digest}`);
  expect(manifest.mediaType).toBe(DOCKER_MANIFEST);
  expect(manifest.config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
  expect(new Set(manifest.layers.map((l: { mediaType: string }) => l.mediaType))).toEqual(
    new Set(['application/vnd.docker.image.rootfs.diff.tar.gzip']),
  );
  const copy = await tempDir('airlift-copy-');
  await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${registry.host}/test/fmt:1`, `oci:${copy}:fmt`]);
});

test('adding --format oci manifests to a Docker list is refused, leaving the tag as it was; by default the list family is kept', async () => {
  const client = new RegistryClient({ host: registry.host, plainHttp: true });
  const tag = async () => JSON.parse((await client.getManifest('test/fmt', '1'))!.bytes.toString('utf8'));
  const before = await tag();
  const oci = await load({ archives: [arm], registry: registry.host, plainHttp: true, cacheDir: null, format: 'oci' });
  expect(oci.failures[0]?.message).toMatch(
    /already holds linux\/amd64, linux\/arm64 as Docker manifests, and an index never mixes OCI and Docker manifests: load with --format docker/,
  );
  expect(await tag()).toEqual(before);

  const docker = await load({ archives: [arm], registry: registry.host, plainHttp: true, cacheDir: null });
  expect(docker.failures).toEqual([]);
  const list = await tag();
  await client.close();
  expect(list.mediaType).toBe(DOCKER_LIST);
  expect(list.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort()).toEqual([
    'amd64',
    'arm',
    'arm64',
  ]);
});
