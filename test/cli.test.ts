/**
 * The CLI people use, against a real registry: progress on a terminal and off it, the --json
 * result, --dry-run plans that write nothing, --platform subsets, --arch-tags, the
 * registries.yaml a load emits, --help, and `npm run demo`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadPlan } from '../src/load/dry-run.js';
import { sha256 } from '../src/oci/digest.js';
import { archTagNames, parsePlatform } from '../src/oci/platform.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { run, runAirlift, skopeo, tempDir } from './helpers/tools.js';
import { parseYaml } from './helpers/yaml.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'fixtures');
const [amd64, arm64, arm] = ['amd64', 'arm64', 'arm'].map((arch) => join(fixtures, `k3s-airgap-images-${arch}.tar.gz`)) as [
  string,
  string,
  string,
];
const bundles = [amd64, arm64, arm];
const tagCount = 8;

interface LoadJson {
  images: Array<{
    target: string;
    sources: Array<{ archive: string; ref: string; platform: string }>;
    indexDigest: string;
    platforms: Array<{ platform: string; manifestDigest: string; configDigest: string }>;
    archTags?: string[];
  }>;
  bytesUploaded: number;
  durationMs: number;
  failures: Array<{ target: string; message: string }>;
  warnings: string[];
  registriesYaml?: string;
}

let registry: Registry;
let cacheHome: string;
/** The runs' own temp dir, so their work dirs never show up in another test file's checks of the system one. */
let privateEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  registry = await startRegistry();
  cacheHome = await tempDir('airlift-cli-cache-');
  privateEnv = { XDG_CACHE_HOME: cacheHome, TMPDIR: await tempDir('airlift-cli-tmp-') };
});
afterAll(async () => {
  await registry?.stop();
  await Promise.all([cacheHome, privateEnv?.TMPDIR].map((dir) => dir && rm(dir, { recursive: true, force: true })));
});

const airlift = (args: string[], env: NodeJS.ProcessEnv = {}) => runAirlift(args, { env: { ...privateEnv, ...env } });
const load = (namespace: string, args: string[], env?: NodeJS.ProcessEnv) =>
  airlift(['load', '--registry', `${registry.host}/${namespace}`, '--plain-http', ...args], env);
const inspectRaw = async (ref: string) => skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
const platformsOf = (index: string) =>
  (JSON.parse(index) as { manifests: Array<{ platform: { architecture: string; variant?: string } }> }).manifests.map((m) =>
    [m.platform.architecture, m.platform.variant].filter(Boolean).join('/'),
  );

// ISO time, then text; nothing else may reach stderr when it is not a terminal.
const timestamped = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S/;
const spinnerFrames = /[\u2800-\u28ff]/;
const sgr = /\x1b\[[0-9;]*m/;

describe('a load, off and on a terminal', () => {
  let first: LoadJson;
  let stderr: string;

  beforeAll(async () => {
    const result = await load('lines', ['--json', amd64]);
    expect(result.code).toBe(0);
    first = JSON.parse(result.stdout) as LoadJson;
    stderr = result.stderr;
  });

  test('not a terminal: plain timestamped lines with phases, plan, per-layer actions and per-image completion', () => {
    const lines = stderr.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(timestamped);
    expect(stderr).not.toMatch(/\x1b/);
    expect(stderr).not.toMatch(spinnerFrames);
    for (const phase of ['reading archives', 'planning', 'uploading layers', 'pushing and verifying tags']) {
      expect(lines.some((line) => line.endsWith(`Z ${phase}`))).toBe(true);
    }
    expect(stderr).toMatch(/ plan: 8 tag\(s\), 8 platform image\(s\), \d+ distinct layer\(s\)/);
    expect(stderr).toMatch(/ layer sha256:[0-9a-f]{12} uploaded \(.+\) in lines\/rancher\/klipper-helm\n/);
    expect(stderr).toMatch(/ layer sha256:[0-9a-f]{12} mounted \(.+\) in lines\/rancher\//);
    expect(stderr).toMatch(/ lines\/rancher\/mirrored-pause:3\.6: all 1 layer\(s\) in place/);
    expect(lines.at(-1)).toMatch(/ done: 8 tag\(s\) verified, 0 failed; blobs \d+ uploaded/);
  });

  test('--json: one document with images, bytes, duration, failures and warnings', () => {
    expect(Object.keys(first).sort()).toEqual(['bytesUploaded', 'durationMs', 'failures', 'images', 'warnings']);
    expect(first.images).toHaveLength(tagCount);
    const pause = first.images.find((i) => i.target === `${registry.host}/lines/rancher/mirrored-pause:3.6`)!;
    expect(Object.keys(pause).sort()).toEqual(['indexDigest', 'platforms', 'sources', 'target']);
    expect(pause.indexDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pause.sources).toEqual([{ archive: amd64, ref: 'docker.io/rancher/mirrored-pause:3.6', platform: 'linux/amd64' }]);
    expect(pause.platforms).toEqual([
      { platform: 'linux/amd64', manifestDigest: expect.stringMatching(/^sha256:/), configDigest: expect.stringMatching(/^sha256:/) },
    ]);
    expect(first.bytesUploaded).toBeGreaterThan(0);
    expect(first.failures).toEqual([]);
    expect(first.warnings).toEqual([]);
  });

  test('--dry-run against what is there: amd64 present, the other layers to upload, the tags left as they were', async () => {
    const result = await load('lines', ['--dry-run', '--json', ...bundles]);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as LoadPlan;
    expect(plan.dryRun).toBe(true);
    expect(plan.totals).toMatchObject({ tags: tagCount, images: 3 * tagCount });
    for (const image of plan.images) {
      const loaded = first.images.find((i) => i.target === image.target)!;
      expect(image.current).toEqual({ digest: loaded.indexDigest, platforms: ['linux/amd64'] });
      expect(image.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
      expect(image.platforms.find((p) => p.platform === 'linux/amd64')!.config).toBe('present');
    }
    const amd64Layers = plan.layers.filter((l) => l.archive === amd64);
    expect(amd64Layers.length).toBeGreaterThan(0);
    for (const layer of amd64Layers) expect(layer).toMatchObject({ status: 'present', digest: expect.stringMatching(/^sha256:/) });
    const neverSeen = plan.layers.filter((l) => l.digest === null);
    expect(neverSeen.length).toBe(plan.totals.layersOfUnknownSize);
    expect(neverSeen.length).toBeGreaterThan(0);
    for (const layer of neverSeen) expect(layer).toMatchObject({ status: 'upload', size: null, presentIn: [] });
    expect(plan.totals.bytesPresent).toBeGreaterThan(0);
    expect(plan.totals.bytesOfUnknownSize).toBe(neverSeen.reduce((sum, l) => sum + l.archiveSize, 0));
    for (const image of first.images) expect(sha256(await inspectRaw(image.target))).toBe(image.indexDigest);
  });

  test('on a terminal: an ora spinner with per-image lines; NO_COLOR leaves out colour, its absence does not', async () => {
    const onTerminal = (args: string[], env: NodeJS.ProcessEnv) => {
      const command = [process.execPath, join(root, 'dist/src/cli/airlift.cjs'), ...args].map((a) => `'${a}'`).join(' ');
      // A CI variable, as CI machines set, keeps airlift off the spinner: unset it.
      return run('env', ['-u', 'CI', 'script', '-qec', `stty cols 120 rows 40; exec ${command}`, '/dev/null'], {
        env: { ...privateEnv, TERM: 'xterm-256color', ...env },
      });
    };
    const target = ['--registry', `${registry.host}/tty`, '--plain-http'];
    const plain = await onTerminal(['load', ...target, arm64], { NO_COLOR: '1' });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(spinnerFrames);
    expect(plain.stdout).not.toMatch(sgr);
    expect(plain.stdout).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect(plain.stdout).toMatch(/✔ plan: 8 tag\(s\), 8 platform image\(s\)/);
    expect(plain.stdout).toMatch(/uploading layers {2}layers \d+\/\d+ \(/);
    expect(plain.stdout).toMatch(/\n {2}tty\/rancher\/[a-z-]+:\S+ {2}\[arm64\] {2}(\d+\/\d+ layers|layers in place) {2}/);
    expect(plain.stdout).toMatch(/✔ 127\.0\.0\.1:\d+\/tty\/rancher\/mirrored-pause:3\.6 \[linux\/arm64\]/);
    expect(plain.stdout).toMatch(/✔ done: 8 tag\(s\) verified, 0 failed/);
    const coloured = await onTerminal(['load', ...target, '--dry-run', arm64], { NO_COLOR: '' });
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toMatch(sgr);
    expect(coloured.stdout).toMatch(/planned: 8 tag\(s\)/);
  });
});

describe('--dry-run', () => {
  test('plans everything and writes nothing: the registry stays empty', async () => {
    const empty = await startRegistry();
    try {
      const result = await runAirlift(['load', '--registry', empty.host, '--plain-http', '--dry-run', '--json', ...bundles], {
        env: { ...privateEnv, XDG_CACHE_HOME: await tempDir('airlift-cli-nocache-') },
      });
      expect(result.code).toBe(0);
      const plan = JSON.parse(result.stdout) as LoadPlan;
      expect(Object.keys(plan).sort()).toEqual(['dryRun', 'images', 'layers', 'registry', 'totals', 'warnings']);
      expect(plan.registry).toBe(empty.host);
      expect(plan.images).toHaveLength(tagCount);
      expect(plan.images[0]).toMatchObject({
        target: `${empty.host}/rancher/klipper-helm:v0.8.0-build20230510`,
        current: null,
        platforms: [
          { platform: 'linux/amd64', archive: amd64, ref: 'docker.io/rancher/klipper-helm:v0.8.0-build20230510', config: 'upload' },
          { platform: 'linux/arm/v7', archive: arm },
          { platform: 'linux/arm64', archive: arm64 },
        ],
      });
      for (const layer of plan.layers) expect(layer).toMatchObject({ status: 'upload', digest: null, size: null, presentIn: [] });
      expect(plan.totals).toMatchObject({ tags: tagCount, images: 3 * tagCount, bytesPresent: 0, layersOfUnknownSize: plan.layers.length });
      // Only the configs' sizes are known before compressing anything.
      expect(plan.totals.bytesToUpload).toBe(plan.images.flatMap((i) => i.platforms).reduce((sum, p) => sum + p.configSize, 0));
      const catalog = (await (await fetch(`http://${empty.host}/v2/_catalog`)).json()) as { repositories: string[] };
      expect(catalog.repositories).toEqual([]);
      expect(existsSync(join(empty.dataDir, 'docker', 'registry', 'v2', 'repositories'))).toBe(false);
    } finally {
      await empty.stop();
    }
  });
});

describe('--platform', () => {
  test('a comma-separated subset yields indexes with exactly those platforms', async () => {
    const result = await load('subset', ['--json', '--platform', 'linux/arm64,linux/arm/v7', ...bundles]);
    expect(result.code).toBe(0);
    const loaded = JSON.parse(result.stdout) as LoadJson;
    expect(loaded.images).toHaveLength(tagCount);
    for (const image of loaded.images) expect(image.platforms.map((p) => p.platform)).toEqual(['linux/arm/v7', 'linux/arm64']);
    for (const name of ['rancher/mirrored-pause:3.6', 'rancher/mirrored-library-traefik:2.9.10']) {
      expect(platformsOf(await inspectRaw(`${registry.host}/subset/${name}`))).toEqual(['arm/v7', 'arm64']);
    }
  });

  test('repeated, with short names: the same subset, shown by a dry run', async () => {
    const result = await load('subset2', ['--dry-run', '--platform', 'arm64', '--platform', 'linux/arm', ...bundles]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^plan for 127\.0\.0\.1:\d+\/subset2 \(dry run: nothing written\)\n/);
    const tagLines = result.stdout.split('\n').filter((line) => line.startsWith(`  ${registry.host}/subset2/`));
    expect(tagLines).toHaveLength(tagCount);
    for (const line of tagLines) expect(line).toMatch(/ {2}linux\/arm\/v7, linux\/arm64 {2}\(new tag\)$/);
  });

  test('a platform no archive holds fails before any write (exit 1); a malformed one is a usage error (exit 2)', async () => {
    const [absent, malformed] = await Promise.all([
      load('absent', ['--platform', 'linux/s390x', ...bundles]),
      load('absent', ['--platform', 'linux/', amd64]),
    ]);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toMatch(
      /--platform linux\/s390x: no image of the archives is built for it \(they hold linux\/amd64, linux\/arm\/v7, linux\/arm64\)/,
    );
    await expect(inspectRaw(`${registry.host}/absent/rancher/mirrored-pause:3.6`)).rejects.toThrow();
    // Nothing at all was written under the target namespace: no blob, no upload session.
    expect(existsSync(join(registry.dataDir, 'docker', 'registry', 'v2', 'repositories', 'absent'))).toBe(false);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--platform: invalid platform "linux\/"/);
  });
});

describe('--arch-tags', () => {
  test.each([
    [
      ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
      ['amd64', 'arm64', 'arm'],
    ],
    [['linux/arm/v6'], ['arm']],
    [
      ['linux/arm/v6', 'linux/arm/v7'],
      ['armv6', 'arm'],
    ],
    [
      ['linux/arm64', 'linux/arm64/v9'],
      ['arm64', 'arm64v9'],
    ],
  ])('names %j → %j', (platforms, names) => {
    expect(archTagNames(platforms.map(parsePlatform))).toEqual(names);
  });

  test('three bundles, --quiet: <tag>-amd64/-arm64/-arm name each platform manifest; the emitted registries.yaml leads nodes to the index', async () => {
    const yamlFile = join(await tempDir('airlift-cli-yaml-'), 'registries.yaml');
    const result = await load('arch', ['--arch-tags', '--quiet', '--json', '--emit-registries-yaml', yamlFile, ...bundles]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const loaded = JSON.parse(result.stdout) as LoadJson;
    expect(loaded.registriesYaml).toBe(yamlFile);
    for (const image of loaded.images) {
      expect(image.archTags).toEqual(['amd64', 'arm', 'arm64'].map((arch) => `${image.target}-${arch}`));
    }
    const pause = loaded.images.find((i) => i.target.endsWith('/mirrored-pause:3.6'))!;
    for (const [arch, platform] of [
      ['amd64', 'linux/amd64'],
      ['arm', 'linux/arm/v7'],
      ['arm64', 'linux/arm64'],
    ] as const) {
      const manifest = await inspectRaw(`${pause.target}-${arch}`);
      expect(sha256(manifest)).toBe(pause.platforms.find((p) => p.platform === platform)!.manifestDigest);
    }

    // What a k3s node does with the file: docker.io/rancher/mirrored-pause:3.6 → mirror endpoint + rewrite.
    const yaml = parseYaml(await readFile(yamlFile, 'utf8')) as {
      mirrors: Record<string, { endpoint: string[]; rewrite: Record<string, string> }>;
    };
    expect(Object.keys(yaml)).toEqual(['mirrors']);
    const mirror = yaml.mirrors['docker.io']!;
    expect(mirror.endpoint).toEqual([`http://${registry.host}`]);
    const [[pattern, replacement]] = Object.entries(mirror.rewrite) as [[string, string]];
    const repository = 'rancher/mirrored-pause'.replace(new RegExp(pattern), replacement);
    expect(sha256(await inspectRaw(`${new URL(mirror.endpoint[0]!).host}/${repository}:3.6`))).toBe(pause.indexDigest);
  });

  test('two arm variants in one tag (ctr export bundle): v7 keeps -arm, v6 is -armv6; a v6-only image is -arm', async () => {
    const result = await load('ctrarch', ['--arch-tags', '--json', join(fixtures, 'ctr-airgap-images-arm.tar')]);
    expect(result.code).toBe(0);
    const loaded = JSON.parse(result.stdout) as LoadJson;
    const byName = (name: string) => loaded.images.find((i) => i.target.endsWith(name))!;
    const busybox = byName('/mirrored-library-busybox:1.36.1');
    expect(busybox.archTags).toEqual([`${busybox.target}-armv6`, `${busybox.target}-arm`]);
    for (const [arch, platform] of [
      ['armv6', 'linux/arm/v6'],
      ['arm', 'linux/arm/v7'],
    ] as const) {
      expect(sha256(await inspectRaw(`${busybox.target}-${arch}`))).toBe(
        busybox.platforms.find((p) => p.platform === platform)!.manifestDigest,
      );
    }
    const traefik = byName('/mirrored-library-traefik:2.9.10');
    expect(traefik.platforms.map((p) => p.platform)).toEqual(['linux/arm/v6']);
    expect(traefik.archTags).toEqual([`${traefik.target}-arm`]);
  });
});

describe('--help', () => {
  test('every command: examples and the exit codes', async () => {
    const commands = [[], ['load'], ['inspect'], ['k3s-registries'], ['verify'], ['sync'], ['save']];
    const results = await Promise.all(commands.map((command) => runAirlift([...command, '--help'])));
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Examples:');
      expect(result.stdout).toContain('Exit codes: 0 ok, 1 some images failed, 2 usage or setup error.');
    }
  });
});

describe('--version', () => {
  test("prints package.json's version, wherever the package lies (CI clones into /tmp/ci.XXXX, a dotted name)", async () => {
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    const result = await runAirlift(['--version']);
    expect({ code: result.code, stdout: result.stdout.trim() }).toEqual({ code: 0, stdout: version });
  });
});

describe('npm run demo', () => {
  test('builds bundles, loads them into a throwaway registry, checks them, prints registries.yaml, cleans up', async () => {
    const result = await run(process.execPath, [join(root, 'dist/scripts/demo.js')], { env: { ...privateEnv, CI: 'true' } });
    expect(result.code).toBe(0);
    expect(result.stdout.match(/ {2}✔ 127\.0\.0\.1:\d+\/rancher\/\S+ {2}linux\/amd64, linux\/arm\/v7, linux\/arm64\n/g)).toHaveLength(
      tagCount,
    );
    expect(result.stdout).toMatch(/\nmirrors:\n {2}"docker\.io":\n {4}endpoint:\n {6}- "http:\/\/127\.0\.0\.1:\d+"\n/);
    const host = /throwaway registry at (\S+)/.exec(result.stdout)![1]!;
    await expect(fetch(`http://${host}/v2/`)).rejects.toThrow();
  });
});
