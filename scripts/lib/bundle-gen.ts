/**
 * Deterministic generator of legacy `docker save` archives (the layout Docker < 25 writes):
 * `<layerid>/{VERSION,json,layer.tar}` per layer, `<confighex>.json` per image, then
 * `manifest.json` and `repositories`, all in lexical order. Identical specs give
 * byte-identical archives, and layer content is streamed so memory stays flat.
 * The content, tar and config building blocks are exported for `oci-gen.ts`.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Pack } from 'tar-stream';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** A file in a layer. Paths are relative (`etc/hosts`); parent directories are added implicitly. */
export type FileSpec =
  | { path: string; content: Buffer | string; mode?: number }
  /** `size` bytes generated from `seed` (default: the path), so equal specs give equal bytes. */
  | { path: string; size: number; kind: 'text' | 'random'; seed?: string; mode?: number }
  /** `size` bytes cut from the executable at `source` (see executableContent), chosen by `seed`. */
  | { path: string; size: number; kind: 'executable'; source: string; seed?: string; mode?: number }
  /** Deletes `path` from lower layers, written as `<dir>/.wh.<name>`. */
  | { path: string; whiteout: true }
  | { path: string; symlink: string };

export interface LayerSpec {
  files: FileSpec[];
  /** The history entry's `created_by`. */
  createdBy?: string;
}

export interface ImageSpec {
  repoTags: string[];
  layers: LayerSpec[];
  env?: string[];
  cmd?: string[];
}

export interface BundleSpec {
  platform: Platform;
  images: ImageSpec[];
  /** Default 'none', like `docker save` itself. */
  compression?: 'gzip' | 'none';
  /** Leave `variant` out of the configs, as many real arm images do. */
  omitVariant?: boolean;
}

export interface WrittenImage {
  repoTags: string[];
  configDigest: string;
  diffIDs: string[];
}

const CREATED = '2023-05-10T00:00:00Z';
const MTIME = new Date(CREATED);
/** What docker writes as `created` for every layer but the top one. */
const LEGACY_EPOCH = '1970-01-01T00:00:00Z';
const CHUNK_SIZE = 1 << 20;

// ---------------------------------------------------------------------------
// Deterministic content

const ZEROS = Buffer.alloc(CHUNK_SIZE);

/** AES-CTR keystream: incompressible, seeded, and several GB/s. */
function* randomContent(seed: string, size: number): Generator<Buffer> {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16));
  for (let left = size; left > 0; left -= CHUNK_SIZE) {
    yield cipher.update(ZEROS.subarray(0, Math.min(left, CHUNK_SIZE)));
  }
}

const executables = new Map<string, Buffer>();

/**
 * Slices of a real executable at seeded offsets, 4 bytes in every 4 KiB replaced by seeded ones
 * so that no two files or arches share a block: bytes that compress, and cost to compress, like
 * the Go binaries real images are made of (~35 % of their size at gzip -1, ~31 % at -6).
 */
function* executableContent(source: string, seed: string, size: number): Generator<Buffer> {
  let bytes = executables.get(source);
  if (!bytes) executables.set(source, (bytes = readFileSync(source)));
  if (bytes.length < CHUNK_SIZE) throw new Error(`${source} is too small to cut binaries from (${bytes.length} bytes)`);
  const next = seededPrng(seed);
  for (let left = size; left > 0; left -= CHUNK_SIZE) {
    const start = next() % (bytes.length - CHUNK_SIZE + 1);
    const chunk = Buffer.from(bytes.subarray(start, start + Math.min(left, CHUNK_SIZE)));
    for (let at = 0; at + 4 <= chunk.length; at += 4096) chunk.writeUInt32LE(next(), at);
    yield chunk;
  }
}

/** xorshift32; cheap enough to pick one line per call. */
function seededPrng(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0) || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ' +
  'et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ' +
  'ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla ' +
  'pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim ' +
  'id est laborum container image layer registry manifest config digest platform kubernetes node pod'
).split(' ');

/** A fixed pool of lines; text files are seeded sequences of them, so they compress like prose. */
const TEXT_LINES: Buffer[] = (() => {
  const next = seededPrng('text-lines');
  return Array.from({ length: 1024 }, () => {
    const words = Array.from({ length: 4 + (next() % 11) }, () => WORDS[next() % WORDS.length]);
    return Buffer.from(`${words.join(' ')}\n`);
  });
})();

function* textContent(seed: string, size: number): Generator<Buffer> {
  const next = seededPrng(seed);
  for (let left = size; left > 0; left -= CHUNK_SIZE) {
    const chunk = Buffer.allocUnsafe(Math.min(left, CHUNK_SIZE));
    // Buffer#copy truncates the last line at the chunk's end.
    for (let offset = 0; offset < chunk.length;) {
      offset += TEXT_LINES[next() % TEXT_LINES.length].copy(chunk, offset);
    }
    yield chunk;
  }
}

// ---------------------------------------------------------------------------
// Tar writing

export type Body = () => Iterable<Buffer> | AsyncIterable<Buffer>;
export type TarHeader = Parameters<Pack['entry']>[0];
type Sink = ReturnType<Pack['entry']>;

export interface TarEntry {
  header: TarHeader;
  body?: Body;
}

function tarHeader(name: string, fields: Omit<TarHeader, 'name'>): TarHeader {
  return { name, uid: 0, gid: 0, mtime: MTIME, ...fields };
}

export function directoryEntry(dir: string): TarEntry {
  return { header: tarHeader(`${dir}/`, { type: 'directory', mode: 0o755 }) };
}

export function fileEntry(name: string, size: number, body: Body, mode = 0o644): TarEntry {
  return { header: tarHeader(name, { type: 'file', size, mode }), body };
}

export function bytesEntry(name: string, data: Buffer, mode?: number): TarEntry {
  return fileEntry(name, data.length, () => [data], mode);
}

function symlinkEntry(name: string, target: string): TarEntry {
  return { header: tarHeader(name, { type: 'symlink', linkname: target, mode: 0o777 }) };
}

/** Orders like Go's filepath.Walk, which docker uses: component by component, byte order. */
function comparePaths(a: string, b: string): number {
  const left = a.replace(/\/$/, '').split('/');
  const right = b.replace(/\/$/, '').split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i] < right[i] ? -1 : 1;
  }
  return left.length - right.length;
}

export function sortedEntries(entries: Iterable<TarEntry>): TarEntry[] {
  return [...entries].sort((a, b) => comparePaths(a.header.name, b.header.name));
}

async function pump(body: Iterable<Buffer> | AsyncIterable<Buffer>, sink: Sink): Promise<void> {
  for await (const chunk of body) {
    if (!sink.write(chunk)) await once(sink, 'drain');
  }
  sink.end(null);
}

function writeEntry(pack: Pack, { header, body }: TarEntry): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    pump(body?.() ?? [], sink).catch(reject);
  });
}

/** Returns a tar stream of `entries`, produced as it is read. */
function tarStream(entries: TarEntry[]): AsyncIterable<Buffer> {
  const pack = tar.pack();
  (async () => {
    for (const entry of entries) await writeEntry(pack, entry);
  })().then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  return pack as AsyncIterable<Buffer>;
}

// ---------------------------------------------------------------------------
// Layers

function parentDirs(file: string): string[] {
  const parts = file.split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

function layerFileEntry(file: FileSpec): TarEntry {
  if ('whiteout' in file) {
    const { dir, base } = path.posix.parse(file.path);
    return bytesEntry(path.posix.join(dir, `.wh.${base}`), Buffer.alloc(0));
  }
  if ('symlink' in file) return symlinkEntry(file.path, file.symlink);
  if ('content' in file) return bytesEntry(file.path, Buffer.from(file.content), file.mode);
  const { seed = file.path, size } = file;
  if (file.kind === 'executable') return fileEntry(file.path, size, () => executableContent(file.source, seed, size), file.mode);
  const generate = file.kind === 'text' ? textContent : randomContent;
  return fileEntry(file.path, size, () => generate(seed, size), file.mode);
}

function layerEntries(layer: LayerSpec): TarEntry[] {
  const entries = new Map<string, TarEntry>();
  for (const file of layer.files) {
    for (const dir of parentDirs(file.path)) entries.set(`${dir}/`, directoryEntry(dir));
    const entry = layerFileEntry(file);
    if (entries.has(entry.header.name)) throw new Error(`duplicate path in layer: ${entry.header.name}`);
    entries.set(entry.header.name, entry);
  }
  return sortedEntries(entries.values());
}

/** The layer's uncompressed tar, generated afresh on every call. */
export function layerTar(spec: LayerSpec): AsyncIterable<Buffer> {
  return tarStream(layerEntries(spec));
}

/** Digest (`sha256:<hex>`) and size of a stream, read to its end. */
export async function measureStream(stream: AsyncIterable<Buffer>): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

export interface MeasuredLayer {
  spec: LayerSpec;
  diffID: string;
  tarSize: number;
}

/** Pre-pass: the tar is generated once to learn its digest and size, and again when written. */
async function measureLayer(spec: LayerSpec): Promise<MeasuredLayer> {
  const { digest, size } = await measureStream(layerTar(spec));
  return { spec, diffID: digest, tarSize: size };
}

// ---------------------------------------------------------------------------
// Image metadata

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function chainIDs(diffIDs: string[]): string[] {
  const chain: string[] = [];
  for (const diffID of diffIDs) {
    const parent = chain.at(-1);
    chain.push(parent ? `sha256:${sha256Hex(`${parent} ${diffID}`)}` : diffID);
  }
  return chain;
}

function platformFields(platform: Platform, omitVariant: boolean): Platform {
  const { os, architecture, variant } = platform;
  return variant && !omitVariant ? { architecture, os, variant } : { architecture, os };
}

function runConfig(image: ImageSpec): Record<string, string[]> {
  return { ...(image.env && { Env: image.env }), ...(image.cmd && { Cmd: image.cmd }) };
}

function history(image: ImageSpec): object[] {
  const layerSteps = image.layers.map((layer) => ({ created: CREATED, created_by: layer.createdBy ?? 'COPY . /' }));
  const metadataSteps = [
    ...(image.env ? [`ENV ${image.env.join(' ')}`] : []),
    ...(image.cmd ? [`CMD ${JSON.stringify(image.cmd)}`] : []),
  ].map((step) => ({ created: CREATED, created_by: step, empty_layer: true }));
  return [...layerSteps, ...metadataSteps];
}

function imageConfig(image: ImageSpec, platform: Platform, diffIDs: string[]): object {
  return {
    created: CREATED,
    ...platform,
    config: runConfig(image),
    rootfs: { type: 'layers', diff_ids: diffIDs },
    history: history(image),
  };
}

/** What docker < 25 fills a v1 layer's empty `container_config` with. */
const EMPTY_CONTAINER_CONFIG = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: null,
};

export interface ImagePlan {
  image: ImageSpec;
  platform: Platform;
  configBytes: Buffer;
  configDigest: string;
  layers: MeasuredLayer[];
}

export interface LegacyLayer {
  id: string;
  json: object;
  layer: MeasuredLayer;
}

/**
 * Like docker's v1.CreateID: lower layers depend only on the chain, so images sharing
 * a prefix share those directories; the top layer also depends on the image config.
 */
export function legacyLayers({ image, platform, configDigest, layers }: ImagePlan): LegacyLayer[] {
  const chain = chainIDs(layers.map((layer) => layer.diffID));
  const result: LegacyLayer[] = [];
  layers.forEach((layer, i) => {
    const parent = result.at(-1)?.id;
    const isTop = i === layers.length - 1;
    const id = sha256Hex(JSON.stringify({ layer_id: chain[i], parent, config: isTop ? configDigest : undefined }));
    const json = isTop
      ? { id, parent, created: CREATED, container_config: EMPTY_CONTAINER_CONFIG, config: runConfig(image), ...platform }
      : { id, parent, created: LEGACY_EPOCH, container_config: EMPTY_CONTAINER_CONFIG, os: platform.os };
    result.push({ id, json, layer });
  });
  return result;
}

export function splitRepoTag(repoTag: string): [repo: string, tag: string] {
  const colon = repoTag.lastIndexOf(':');
  if (colon <= repoTag.lastIndexOf('/')) throw new Error(`repo tag needs an explicit tag: ${repoTag}`);
  return [repoTag.slice(0, colon), repoTag.slice(colon + 1)];
}

function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** `{"repo": {"tag": "<top layer id>"}}` with keys sorted, as Go marshals maps. */
export function repositoriesJson(images: Array<{ repoTags: string[]; topLayerId: string }>): object {
  const repositories: Record<string, Record<string, string>> = {};
  for (const { repoTags, topLayerId } of images) {
    for (const [repo, tag] of repoTags.map(splitRepoTag)) (repositories[repo] ??= {})[tag] = topLayerId;
  }
  return sortedKeys(Object.fromEntries(Object.entries(repositories).map(([repo, tags]) => [repo, sortedKeys(tags)])));
}

// ---------------------------------------------------------------------------
// Archive assembly

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Collects the archive's entries the way docker's saveSession writes its temp directory. */
class LegacyArchive {
  private readonly entries = new Map<string, TarEntry>();
  private readonly layerTarByDiffID = new Map<string, string>();

  add(entry: TarEntry): void {
    this.entries.set(entry.header.name, entry);
  }

  /** A layer seen before under another id becomes a symlink to its first copy, as docker does. */
  addLayer({ id, json, layer }: LegacyLayer): void {
    if (this.entries.has(`${id}/`)) return;
    this.add(directoryEntry(id));
    this.add(bytesEntry(`${id}/VERSION`, Buffer.from('1.0')));
    this.add(bytesEntry(`${id}/json`, jsonBytes(json)));
    const tarPath = `${id}/layer.tar`;
    const firstCopy = this.layerTarByDiffID.get(layer.diffID);
    if (firstCopy) {
      this.add(symlinkEntry(tarPath, `../${firstCopy}`));
    } else {
      this.layerTarByDiffID.set(layer.diffID, tarPath);
      this.add(fileEntry(tarPath, layer.tarSize, () => layerTar(layer.spec)));
    }
  }

  sorted(): TarEntry[] {
    return sortedEntries(this.entries.values());
  }
}

export async function writeTarFile(file: string, entries: TarEntry[], compression: 'gzip' | 'none'): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const pack = Readable.from(tarStream(entries));
  const output = createWriteStream(file);
  await (compression === 'gzip' ? pipeline(pack, createGzip({ level: 1 }), output) : pipeline(pack, output));
}

/** Measures every layer and builds each image's config for `spec.platform`. */
export async function planImages(spec: BundleSpec): Promise<ImagePlan[]> {
  const platform = platformFields(spec.platform, spec.omitVariant ?? false);
  // Keyed by object identity, so layer specs reused across images are measured once.
  const measured = new Map<LayerSpec, MeasuredLayer>();
  const plans: ImagePlan[] = [];
  for (const image of spec.images) {
    const layers: MeasuredLayer[] = [];
    for (const spec of image.layers) {
      const layer = measured.get(spec) ?? (await measureLayer(spec));
      measured.set(spec, layer);
      layers.push(layer);
    }
    const configBytes = jsonBytes(
      imageConfig(
        image,
        platform,
        layers.map((layer) => layer.diffID),
      ),
    );
    plans.push({ image, platform, layers, configBytes, configDigest: `sha256:${sha256Hex(configBytes)}` });
  }
  return plans;
}

export async function writeLegacyBundle(file: string, spec: BundleSpec): Promise<{ images: WrittenImage[] }> {
  const plans = await planImages(spec);
  const archive = new LegacyArchive();
  const manifest = [];
  const tops = [];
  for (const plan of plans) {
    const layers = legacyLayers(plan);
    layers.forEach((layer) => archive.addLayer(layer));
    const configFile = `${plan.configDigest.slice('sha256:'.length)}.json`;
    archive.add(bytesEntry(configFile, plan.configBytes));
    manifest.push({ Config: configFile, RepoTags: plan.image.repoTags, Layers: layers.map(({ id }) => `${id}/layer.tar`) });
    tops.push({ repoTags: plan.image.repoTags, topLayerId: layers[layers.length - 1].id });
  }
  archive.add(bytesEntry('manifest.json', jsonBytes(manifest)));
  archive.add(bytesEntry('repositories', jsonBytes(repositoriesJson(tops))));
  await writeTarFile(file, archive.sorted(), spec.compression ?? 'none');
  return {
    images: plans.map(({ image, configDigest, layers }) => ({
      repoTags: image.repoTags,
      configDigest,
      diffIDs: layers.map((layer) => layer.diffID),
    })),
  };
}

// ---------------------------------------------------------------------------
// k3s-like airgap bundles

/** k3s names its airgap bundles by GOARCH, which drops the variant: linux/arm/v7 → 'arm'. */
export function archName(platform: Platform): string {
  return platform.architecture;
}

export const K3S_PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
];

const MUSL_ARCH: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', arm: 'armhf' };

export interface K3sLikeOptions {
  /** Multiplies every file's size: 1 is ~150 KiB of file content per arch, 4000 ~600 MiB. */
  scale?: number;
  /** Cut the binaries from this executable, so they compress like real ones; by default they are random bytes. */
  executable?: string;
}

/**
 * Eight images shaped like a k3s airgap bundle, with four layers over 100 MB at scale 4000.
 * Binaries are seeded by arch, text files by path only, so the CA layer is identical on
 * every arch.
 */
export function k3sLikeImages(arch: string, opts: K3sLikeOptions = {}): ImageSpec[] {
  const scale = opts.scale ?? 1;
  const kib = (n: number) => Math.round(n * 1024 * scale);
  const { executable } = opts;
  const binary = (file: string, size: number, name = file): FileSpec => {
    const seed = `${arch}/${name}`;
    const content = executable ? { kind: 'executable' as const, source: executable } : { kind: 'random' as const };
    return { path: file, size: kib(size), ...content, seed, mode: 0o755 };
  };
  /** A file that is compressed data in real images too. */
  const compressed = (file: string, size: number): FileSpec => ({ path: file, size: kib(size), kind: 'random', seed: `${arch}/${file}` });
  const text = (file: string, size: number, seed = file): FileSpec => ({ path: file, size: kib(size), kind: 'text', seed });
  const script = (file: string, body: string): FileSpec => ({ path: file, content: `#!/bin/sh\n${body}\n`, mode: 0o755 });
  const muslArch = MUSL_ARCH[arch] ?? arch;

  const alpineBase: LayerSpec = {
    createdBy: 'ADD alpine-minirootfs-3.18.0.tar.gz /',
    files: [
      binary('bin/busybox', 4),
      { path: 'bin/sh', symlink: '/bin/busybox' },
      binary(`lib/ld-musl-${muslArch}.so.1`, 3),
      text('lib/apk/db/installed', 4, `${arch}/apk-db`),
      compressed('var/cache/apk/APKINDEX.tar.gz', 2),
      { path: 'etc/apk/arch', content: `${muslArch}\n` },
      { path: 'etc/os-release', content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.0\n' },
    ],
  };
  const caCertificates: LayerSpec = {
    createdBy: 'COPY /etc/ssl/certs /etc/ssl/certs',
    files: [text('etc/ssl/certs/ca-certificates.crt', 6), text('usr/share/zoneinfo/zone1970.tab', 2)],
  };
  const emptyLayer: LayerSpec = { createdBy: 'RUN mkdir -p /etc/traefik', files: [] };
  const single = (createdBy: string, ...files: FileSpec[]): LayerSpec => ({ createdBy, files });
  const pathEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

  return [
    {
      repoTags: ['rancher/mirrored-pause:3.6'],
      layers: [single('ADD bin/pause /pause', binary('pause', 1))],
      env: pathEnv,
      cmd: ['/pause'],
    },
    {
      repoTags: ['rancher/mirrored-coredns-coredns:1.10.1'],
      layers: [caCertificates, single('COPY coredns /coredns', binary('coredns', 25))],
      cmd: ['/coredns'],
    },
    {
      repoTags: ['rancher/local-path-provisioner:v0.0.24'],
      layers: [alpineBase, single('COPY local-path-provisioner /usr/bin/', binary('usr/bin/local-path-provisioner', 8))],
      env: pathEnv,
      cmd: ['local-path-provisioner'],
    },
    {
      repoTags: ['rancher/mirrored-metrics-server:v0.6.3'],
      layers: [caCertificates, single('COPY metrics-server /', binary('metrics-server', 10))],
      cmd: ['/metrics-server'],
    },
    {
      repoTags: ['rancher/klipper-helm:v0.8.0-build20230510'],
      layers: [
        alpineBase,
        single('COPY helm_v3 /usr/bin/', binary('usr/bin/helm_v3', 26)),
        single('COPY charts /usr/share/helm/charts', text('usr/share/helm/charts/index.yaml', 26, `${arch}/charts`)),
        single(
          'RUN rm -rf /var/cache/apk/*',
          { path: 'var/cache/apk/APKINDEX.tar.gz', whiteout: true },
          script('usr/bin/entry', 'exec helm_v3 "$@"'),
        ),
      ],
      env: pathEnv,
      cmd: ['entry'],
    },
    {
      repoTags: ['rancher/klipper-lb:v0.4.4'],
      layers: [
        alpineBase,
        single('RUN apk add iptables', binary('sbin/xtables-legacy-multi', 4), text('etc/ethertypes', 1), {
          path: 'sbin/iptables',
          symlink: 'xtables-legacy-multi',
        }),
        single('COPY entry /usr/bin/', script('usr/bin/entry', 'exec iptables "$@"')),
      ],
      env: pathEnv,
      cmd: ['entry'],
    },
    {
      repoTags: ['rancher/mirrored-library-traefik:2.9.10'],
      // The two empty RUN layers share a diffID: docker saves the second as a symlink.
      layers: [
        alpineBase,
        caCertificates,
        emptyLayer,
        single('COPY traefik /usr/local/bin/', binary('usr/local/bin/traefik', 30)),
        emptyLayer,
      ],
      env: pathEnv,
      cmd: ['traefik'],
    },
    {
      repoTags: ['rancher/mirrored-library-busybox:1.36.1'],
      layers: [
        single(
          'ADD busybox.tar.xz /',
          binary('bin/busybox', 1, 'busybox-1.36.1'),
          { path: 'bin/ls', symlink: 'busybox' },
          { path: 'bin/sh', symlink: 'busybox' },
        ),
      ],
      cmd: ['sh'],
    },
  ];
}

/**
 * Writes `k3s-airgap-images-<arch>.tar.gz` for every K3S_PLATFORMS entry plus an
 * uncompressed amd64 copy (tools like skopeo 1.9 read only uncompressed archives).
 */
export async function writeK3sFixtures(outDir: string, opts: K3sLikeOptions = {}): Promise<string[]> {
  const written: string[] = [];
  for (const platform of K3S_PLATFORMS) {
    const images = k3sLikeImages(archName(platform), opts);
    const tarFile = path.join(outDir, `k3s-airgap-images-${archName(platform)}.tar`);
    await writeLegacyBundle(`${tarFile}.gz`, { platform, images, compression: 'gzip' });
    written.push(`${tarFile}.gz`);
    if (platform.architecture === 'amd64') {
      await writeLegacyBundle(tarFile, { platform, images, compression: 'none' });
      written.push(tarFile);
    }
  }
  return written;
}
