/**
 * Damaged and hostile bundles, each made here from a good one. Every case runs airlift once
 * (a few at a time), into its own namespace, from a working directory inside the case's own
 * directory; then each case checks the exit code, the messages, that no file appeared around
 * it, exactly which tags the registry holds and, for the JSON bombs, peak memory.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { K3S_PLATFORMS, k3sLikeImages, writeLegacyBundle } from '../scripts/lib/bundle-gen.js';
import { limiter } from '../src/load/limit.js';
import { RegistryClient } from '../src/registry/client.js';
import {
  ociLayoutItems,
  fileItem,
  linkItem,
  listTree,
  peakRss,
  readTarItems,
  registryTags,
  repeated,
  type TarItem,
  writeTarItems,
  writeTarWithHugeEntry,
} from './helpers/bad-bundles.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { runAirlift, tempDir } from './helpers/tools.js';

const PAUSE = 'rancher/mirrored-pause:3.6';
const BUSYBOX = 'rancher/mirrored-library-busybox:1.36.1';
const LB = 'rancher/klipper-lb:v0.4.4';
const ALL = [LB, BUSYBOX, PAUSE];
const MiB = 1024 * 1024;

interface ManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

interface LoadJson {
  images: Array<{ target: string }>;
  failures: Array<{ target: string; message: string }>;
  warnings: string[];
}

interface Case {
  /** Also the registry namespace the case loads into. */
  name: string;
  /** Writes the input into `dir`; returns the airlift arguments naming it. */
  make: (dir: string) => Promise<string[]>;
  code: number;
  /** Each must match a failure; failures must match one of them. */
  failures?: RegExp[];
  warnings?: RegExp[];
  /** Exactly the tags the namespace holds afterwards. */
  tags: string[];
  /** No --json: the messages are looked for in the printed summary and progress lines. */
  plain?: boolean;
  /** A JSON bomb: peak RSS must stay under 256 MiB. */
  bomb?: boolean;
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  json?: LoadJson;
  peakMiB: number;
  filesBefore: string[];
  filesAfter: string[];
  tags: string[];
}

let registry: Registry;
let cacheHome: string;
/** A good amd64 bundle of three images, as a plain tar, its entries and its manifest.json. */
let good: string;
let goodItems: TarItem[];
let manifest: ManifestEntry[];

const entryOf = (repoTag: string): ManifestEntry => manifest.find((m) => m.RepoTags[0] === repoTag)!;
const configDigest = (repoTag: string) => `sha256:${entryOf(repoTag).Config.slice(0, 12)}`;
const itemBody = (name: string): Buffer => goodItems.find((item) => item.header.name === name)!.body;
/** An image of the good bundle as config and layer tars, to build other formats from. */
const imageOf = (repoTag: string) => ({
  ref: `docker.io/${repoTag}`,
  config: itemBody(entryOf(repoTag).Config),
  layers: entryOf(repoTag).Layers.map(itemBody),
});

/** The good bundle's entries, edited by `edit` (return [] to drop an entry), plus `extra`, written to `dir/name`. */
async function edited(dir: string, name: string, edit: (item: TarItem) => TarItem[], extra: TarItem[] = []): Promise<string> {
  const file = join(dir, name);
  await writeTarItems(file, [...goodItems.flatMap(edit), ...extra]);
  return file;
}

const withManifest = (entries: ManifestEntry[]) => (item: TarItem) =>
  item.header.name === 'manifest.json' ? [fileItem('manifest.json', JSON.stringify(entries))] : [item];

async function bytesFile(dir: string, name: string, bytes: Buffer): Promise<string> {
  await writeFile(join(dir, name), bytes);
  return join(dir, name);
}

async function truncatedGzip(dir: string): Promise<string> {
  const gz = gzipSync(await readFile(good));
  return bytesFile(dir, 'truncated-amd64.tar.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
}

async function flippedLayerByte(dir: string): Promise<string> {
  const bytes = await readFile(good);
  const at = bytes.indexOf('exec iptables'); // in klipper-lb's top layer, stored uncompressed
  bytes[at] ^= 0x20;
  return bytesFile(dir, 'flipped-amd64.tar', bytes);
}

async function jsonBomb(dir: string, chunks: () => Iterable<Buffer>): Promise<string> {
  const file = join(dir, 'bomb-amd64.tar.gz');
  await writeTarWithHugeEntry(file, 'manifest.json', 200 * MiB, chunks);
  return file;
}

const cases: Case[] = [
  {
    name: 'truncated-gzip',
    make: async (dir) => [await truncatedGzip(dir)],
    code: 1,
    failures: [/truncated-amd64\.tar\.gz: the archive is truncated .*re-copy or re-download it/],
    tags: [],
  },
  {
    name: 'flipped-byte',
    make: async (dir) => [await flippedLayerByte(dir)],
    code: 1,
    failures: [
      /image docker\.io\/rancher\/klipper-lb:v0\.4\.4 \(linux\/amd64\): .*flipped-amd64\.tar: layer [0-9a-f]{64}\/layer\.tar does not match its config's diff_id \(expected sha256:\w+, read sha256:\w+\): the archive is corrupt; re-copy or re-download it/,
    ],
    tags: [BUSYBOX, PAUSE],
  },
  {
    name: 'corrupt-oci-blob',
    make: async (dir) => [await tarOf(dir, 'oci-corrupt-amd64.tar', ociLayoutItems(imageOf(PAUSE), { corruptLayer: true }))],
    code: 1,
    failures: [
      /image docker\.io\/rancher\/mirrored-pause:3\.6 \(linux\/amd64\): .*oci-corrupt-amd64\.tar: layer blobs\/sha256\/[0-9a-f]{64} does not match its digest \(expected sha256:\w+, read sha256:\w+\): the archive is corrupt; re-copy or re-download it/,
    ],
    tags: [],
  },
  {
    name: 'arm-bundle-amd64-config',
    make: async (dir) => [await copyTo(good, dir, 'k3s-airgap-images-arm.tar')],
    code: 1,
    failures: [
      /k3s-airgap-images-arm\.tar: image docker\.io\/rancher\/\S+: its file name says arm but its config says linux\/amd64: refusing it.*--platform-from archive or --platform-from config/,
    ],
    tags: [],
  },
  {
    name: 'no-manifest',
    make: async (dir) => [await edited(dir, 'no-manifest-amd64.tar', (item) => (item.header.name === 'manifest.json' ? [] : [item]))],
    code: 1,
    failures: [
      /neither index\.json nor manifest\.json is in the archive: not an image bundle, or it is truncated; re-create or re-download it/,
    ],
    tags: [],
  },
  {
    name: 'missing-layer',
    make: async (dir) => [
      await edited(dir, 'missing-layer-amd64.tar', (item) => (item.header.name === entryOf(PAUSE).Layers[0] ? [] : [item])),
    ],
    code: 1,
    failures: [/image rancher\/mirrored-pause:3\.6: its layer [0-9a-f]{64}\/layer\.tar is not in the archive: the bundle is incomplete/],
    tags: [BUSYBOX, LB],
  },
  {
    name: 'escaping-names',
    make: async (dir) => [
      await edited(dir, 'escaping-amd64.tar', (item) => [item], [
        fileItem('../escaped.txt', 'x'),
        fileItem('layers/../../../escaped-too.txt', 'x'),
        fileItem(join(dir, 'absolute.txt'), 'x'),
      ]),
    ],
    code: 0,
    warnings: [
      /ignoring entry "\.\.\/escaped\.txt": its name leaves the archive/,
      /ignoring entry "layers\/\.\.\/\.\.\/\.\.\/escaped-too\.txt"/,
      /ignoring entry "\/.*absolute\.txt"/,
    ],
    tags: ALL,
  },
  {
    name: 'links-outside',
    make: async (dir) => [
      await edited(dir, 'links-amd64.tar', (item) => [item], [
        linkItem('escape', '../../../../etc'),
        linkItem('passwd', '/etc/passwd'),
        linkItem('hard', '../escaped.txt', 'link'),
      ]),
    ],
    code: 0,
    warnings: [
      /ignoring link "escape" → "\.\.\/\.\.\/\.\.\/\.\.\/etc": it leads outside the archive/,
      /ignoring link "passwd" → "\/etc\/passwd"/,
      /ignoring link "hard"/,
    ],
    tags: ALL,
  },
  {
    name: 'layer-links-to-host',
    make: async (dir) => [
      await edited(dir, 'host-link-amd64.tar', (item) => {
        if (item.header.name === entryOf(PAUSE).Layers[0]) return [linkItem(item.header.name, '/etc/passwd')];
        if (item.header.name === entryOf(BUSYBOX).Layers[0]) return [linkItem(item.header.name, '../../../../../../../../etc/passwd')];
        return [item];
      }),
    ],
    code: 1,
    failures: [
      /image rancher\/mirrored-pause:3\.6: its layer \S+ is a link to \/etc\/passwd, outside the archive: refusing it/,
      /image rancher\/mirrored-library-busybox:1\.36\.1: its layer \S+ is a link to (\.\.\/)+etc\/passwd, outside the archive: refusing it/,
    ],
    warnings: [/ignoring link/],
    tags: [LB],
  },
  {
    name: 'empty-file',
    make: async (dir) => [await bytesFile(dir, 'empty-amd64.tar.gz', Buffer.alloc(0))],
    code: 1,
    failures: [/empty-amd64\.tar\.gz: the file is empty: re-copy the bundle/],
    tags: [],
  },
  {
    name: 'random-bytes',
    make: async (dir) => [
      await bytesFile(dir, 'random-amd64.tar.gz', Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919) % 251))),
    ],
    code: 1,
    failures: [/random-amd64\.tar\.gz: not a tar archive \(plain, gzip or zstd\)/],
    tags: [],
  },
  {
    name: 'bomb-deep',
    make: async (dir) => [
      await jsonBomb(dir, function* () {
        yield* repeated(100 * MiB, '[');
        yield* repeated(100 * MiB, ']');
      }),
    ],
    code: 1,
    failures: [/manifest\.json is 209715200 bytes, over the 16 MiB limit for metadata: the archive is not a genuine image bundle/],
    tags: [],
    bomb: true,
  },
  {
    name: 'bomb-string',
    make: async (dir) => [
      await jsonBomb(dir, function* () {
        yield Buffer.from('["');
        yield* repeated(200 * MiB - 4, 'a');
        yield Buffer.from('"]');
      }),
    ],
    code: 1,
    failures: [/manifest\.json is 209715200 bytes, over the 16 MiB limit/],
    tags: [],
    bomb: true,
  },
  {
    name: 'bomb-deep-under-cap',
    make: async (dir) => [await tarOf(dir, 'deep-amd64.tar', [fileItem('manifest.json', '['.repeat(6 * MiB) + ']'.repeat(6 * MiB))])],
    code: 1,
    failures: [/image list manifest\.json nests deeper than 64 levels: the archive is not a genuine image bundle/],
    tags: [],
    bomb: true,
  },
  {
    name: 'bomb-wide-under-cap',
    make: async (dir) => [await tarOf(dir, 'wide-amd64.tar', [fileItem('manifest.json', `[${'{},'.repeat(4 * MiB)}{}]`)])],
    code: 1,
    failures: [/image list manifest\.json holds more than 500000 values/],
    tags: [],
    bomb: true,
  },
  {
    name: 'two-images-one-tag',
    make: async (dir) => [
      await edited(
        dir,
        'two-tags-amd64.tar',
        withManifest(manifest.map((m) => (m.RepoTags[0] === BUSYBOX ? { ...m, RepoTags: [PAUSE] } : m))),
      ),
    ],
    code: 1,
    failures: [
      /two different images claim \S+\/rancher\/mirrored-pause:3\.6 for linux\/amd64: docker\.io\/rancher\/mirrored-pause:3\.6 with config sha256:\w{12} in \S+ and docker\.io\/rancher\/mirrored-pause:3\.6 with config sha256:\w{12} in/,
    ],
    tags: [LB],
  },
  {
    name: 'partial-failure',
    make: async (dir) => [await copyTo(good, dir, 'good-amd64.tar'), await truncatedGzip(dir)],
    code: 1,
    failures: [/the archive is truncated/],
    tags: ALL,
  },
  {
    name: 'partial-failure-summary',
    make: async (dir) => [await copyTo(good, dir, 'good-amd64.tar'), await truncatedGzip(dir)],
    code: 1,
    failures: [/FAILED \S+truncated-amd64\.tar\.gz: the archive is truncated/, /3 tag\(s\) loaded and verified, 1 failed/],
    tags: ALL,
    plain: true,
  },
  {
    name: 'fail-fast-archive',
    make: async (dir) => ['--fail-fast', await copyTo(good, dir, 'good-amd64.tar'), await truncatedGzip(dir)],
    code: 1,
    failures: [/the archive is truncated/],
    tags: [],
  },
  {
    name: 'fail-fast-layer',
    make: async (dir) => ['--fail-fast', await flippedLayerByte(dir)],
    code: 1,
    failures: [/does not match its config's diff_id/, /not attempted: --fail-fast stopped the run/],
    tags: [],
  },
  {
    name: 'platform-from-archive',
    make: async (dir) => ['--platform-from', 'archive', await copyTo(good, dir, 'k3s-airgap-images-arm.tar')],
    code: 0,
    warnings: [/its file name says arm but its config says linux\/amd64; pushing it as linux\/arm\/v7 with its config rewritten to match/],
    tags: ALL,
  },
  {
    name: 'platform-from-config',
    make: async (dir) => ['--platform-from', 'config', await copyTo(good, dir, 'k3s-airgap-images-arm.tar')],
    code: 0,
    warnings: [/its file name says arm but its config says linux\/amd64; pushing it as linux\/amd64, as its config says/],
    tags: ALL,
  },
  {
    name: 'arch-flag',
    make: async (dir) => ['--arch', 'k3s-airgap-images-arm.tar=amd64', await copyTo(good, dir, 'k3s-airgap-images-arm.tar')],
    code: 0,
    tags: ALL,
  },
  {
    name: 'arch-flag-declares-mismatch',
    make: async (dir) => ['--arch', 'bundle.tar=arm64', await copyTo(good, dir, 'bundle.tar')],
    code: 1,
    failures: [/--arch bundle\.tar=arm64 says arm64 but its config says linux\/amd64: refusing it/],
    tags: [],
  },
];

async function tarOf(dir: string, name: string, items: TarItem[]): Promise<string> {
  await writeTarItems(join(dir, name), items);
  return join(dir, name);
}

async function copyTo(source: string, dir: string, name: string): Promise<string> {
  await copyFile(source, join(dir, name));
  return join(dir, name);
}

const outcomes = new Map<string, Outcome>();

async function runCase(c: Case): Promise<void> {
  const dir = await tempDir(`airlift-trust-${c.name}-`);
  const work = join(dir, 'work');
  await mkdir(work);
  await mkdir(join(dir, 'tmp'));
  const args = await c.make(dir);
  const filesBefore = await listTree(dir);
  const rss = peakRss();
  const run = await runAirlift(
    ['load', '--registry', `${registry.host}/${c.name}`, '--plain-http', ...(c.plain ? [] : ['--json']), ...args],
    {
      cwd: work,
      env: { XDG_CACHE_HOME: cacheHome, TMPDIR: join(dir, 'tmp') },
      onStart: rss.onStart,
    },
  );
  outcomes.set(c.name, {
    ...run,
    json: c.plain || !run.stdout.startsWith('{') ? undefined : (JSON.parse(run.stdout) as LoadJson),
    peakMiB: rss.peakMiB(),
    filesBefore,
    filesAfter: await listTree(dir),
    tags: await registryTags(registry.host, c.name),
  });
}

beforeAll(async () => {
  registry = await startRegistry();
  cacheHome = await tempDir('airlift-trust-cache-');
  const dir = await tempDir('airlift-trust-');
  good = join(dir, 'good-amd64.tar');
  await writeLegacyBundle(good, {
    platform: K3S_PLATFORMS[0]!,
    images: k3sLikeImages('amd64').filter((image) => ALL.includes(image.repoTags[0]!)),
  });
  goodItems = await readTarItems(good);
  manifest = JSON.parse(goodItems.find((item) => item.header.name === 'manifest.json')!.body.toString()) as ManifestEntry[];
  const concurrently = limiter(4);
  await Promise.all(cases.map((c) => concurrently(() => runCase(c))));
}, 120_000);

afterAll(async () => {
  await registry?.stop();
});

describe.each(cases)('$name', (c) => {
  const outcome = () => outcomes.get(c.name)!;

  test(`exits ${c.code}`, () => {
    expect({ code: outcome().code, stderr: outcome().stderr }).toMatchObject({ code: c.code });
    expect(outcome().stderr).not.toMatch(/\n\s+at /);
  });

  test('says what failed and why', () => {
    const { json, stdout, stderr } = outcome();
    if (c.plain) {
      for (const message of c.failures ?? []) expect(stdout).toMatch(message);
      return;
    }
    const failures = json!.failures.map((f) => `${f.target}: ${f.message}`);
    for (const message of c.failures ?? []) expect(failures).toContainEqual(expect.stringMatching(message));
    for (const failure of failures) expect(c.failures?.some((m) => m.test(failure))).toBe(true);
    for (const message of c.warnings ?? []) expect(json!.warnings).toContainEqual(expect.stringMatching(message));
    // The same failures are shown while the run goes on, one line each.
    for (const failure of json!.failures) expect(stderr).toContain(failure.message);
  });

  test('no file appeared around it', () => {
    expect(outcome().filesAfter).toEqual(outcome().filesBefore);
    expect(outcome().filesAfter.filter((f) => f.startsWith('work/') || f.startsWith('tmp/'))).toEqual([]);
  });

  test('the registry holds exactly the tags of the images that loaded', () => {
    expect(outcome().tags).toEqual(c.tags.map((tag) => `${c.name}/${tag}`).sort());
  });

  if (c.bomb) {
    test('peak memory stays under 256 MiB', () => {
      expect(outcome().peakMiB).toBeGreaterThan(0);
      expect(outcome().peakMiB).toBeLessThan(256);
    });
  }
});

test('the two images claiming one tag are both named, by config', () => {
  const message = outcomes.get('two-images-one-tag')!.json!.failures[0]!.message;
  expect(message).toContain(configDigest(PAUSE));
  expect(message).toContain(configDigest(BUSYBOX));
});

describe('--platform-from: what is pushed is consistent', () => {
  let client: RegistryClient;
  beforeAll(() => {
    client = new RegistryClient({ host: registry.host, plainHttp: true });
  });
  afterAll(async () => {
    await client.close();
  });

  const pushed = async (namespace: string) => {
    const index = JSON.parse((await client.getManifest(`${namespace}/${PAUSE.split(':')[0]}`, '3.6'))!.bytes.toString());
    const [entry] = index.manifests as Array<{ digest: `sha256:${string}`; platform: object }>;
    const child = JSON.parse((await client.getManifest(`${namespace}/rancher/mirrored-pause`, entry!.digest))!.bytes.toString());
    const config = JSON.parse((await client.getBlob(`${namespace}/rancher/mirrored-pause`, child.config.digest)).toString());
    return {
      entries: index.manifests.length,
      platform: entry!.platform,
      config: { architecture: config.architecture, variant: config.variant },
    };
  };

  test('archive: index entry and config both say linux/arm/v7', async () => {
    expect(await pushed('platform-from-archive')).toEqual({
      entries: 1,
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      config: { architecture: 'arm', variant: 'v7' },
    });
    const verify = await runAirlift([
      'verify',
      '--registry',
      `${registry.host}/platform-from-archive`,
      '--plain-http',
      '--platforms',
      'linux/arm/v7',
      ...ALL,
    ]);
    expect(verify.stdout).toMatch(/3 of 3 tag\(s\) verified, 0 with problems/);
    expect(verify.code).toBe(0);
  });

  test('config: index entry and config both say linux/amd64', async () => {
    expect(await pushed('platform-from-config')).toEqual({
      entries: 1,
      platform: { os: 'linux', architecture: 'amd64' },
      config: { architecture: 'amd64', variant: undefined },
    });
  });

  test('an --arch naming no archive, or an unknown architecture, is a usage error', async () => {
    const runs = await Promise.all(
      ['nope.tar=amd64', `${good}=not an arch`, 'no-equals-sign'].map((arch) =>
        runAirlift(['load', '--registry', `${registry.host}/usage`, '--plain-http', '--arch', arch, good]),
      ),
    );
    expect(runs.map((run) => run.code)).toEqual([2, 2, 2]);
    expect(runs[0]!.stderr).toMatch(/--arch names nope\.tar: not among the archives to load/);
    expect(runs[1]!.stderr).toMatch(/invalid architecture "not an arch" in --arch/);
    expect(runs[2]!.stderr).toMatch(/--arch no-equals-sign: expected ARCHIVE=ARCH/);
  });
});
