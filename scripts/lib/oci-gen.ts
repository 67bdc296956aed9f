/**
 * Deterministic generators of the bundle formats other producers write, from the same
 * ImageSpec model as `bundle-gen.ts`:
 * - `docker save` of Docker ≥ 25: an OCI image layout with uncompressed layers;
 * - `ctr images export --platform …` of images pulled with all platforms (k3s's bundles):
 *   the upstream index blob and the original gzip blobs of the selected platforms only;
 * - `crane pull --format tarball`: manifest.json, `sha256:<hex>` config, `<hex>.tar.gz` layers.
 * Identical specs give byte-identical archives; layers are streamed, so memory stays flat.
 */
import path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import {
  archName,
  bytesEntry,
  directoryEntry,
  fileEntry,
  jsonBytes,
  K3S_PLATFORMS,
  k3sLikeImages,
  layerTar,
  legacyLayers,
  measureStream,
  planImages,
  repositoriesJson,
  sha256Hex,
  sortedEntries,
  splitRepoTag,
  writeTarFile,
} from './bundle-gen.js';
import type {
  BundleSpec,
  ImagePlan,
  ImageSpec,
  LayerSpec,
  MeasuredLayer,
  Platform,
  TarEntry,
  WrittenImage,
} from './bundle-gen.js';

/** Media types of an upstream image: Docker schema2 (most of Docker Hub) or OCI (buildkit). */
export type ManifestFamily = 'docker' | 'oci';

export const MEDIA_TYPES = {
  docker: {
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
  oci: {
    index: 'application/vnd.oci.image.index.v1+json',
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
} as const;

/** What Docker ≥ 25 declares for the uncompressed layers it saves. */
const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** Fixed, so a layer compresses to the same blob on every run (given the same zlib build). */
const LAYER_GZIP_LEVEL = 6;

/** Go's tar writers leave ModTime zero; Docker stamps its metadata files with the epoch. */
const EPOCH = new Date(0);

/** A JSON blob (index, manifest or config) with its descriptor fields. */
export interface JsonBlob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

/** A layer as a registry stores it: gzip-compressed, `digest` and `size` of the compressed bytes. */
export interface CompressedLayer extends MeasuredLayer {
  digest: string;
  size: number;
}

// ---------------------------------------------------------------------------
// Helpers shared by the three formats

function jsonBlob(mediaType: string, bytes: Buffer): JsonBlob {
  return { mediaType, digest: `sha256:${sha256Hex(bytes)}`, size: bytes.length, bytes };
}

function digestHex(digest: string): string {
  if (!digest.startsWith('sha256:')) throw new Error(`not a sha256 digest: ${digest}`);
  return digest.slice('sha256:'.length);
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

function withMode(entry: TarEntry, mode: number): TarEntry {
  return { ...entry, header: { ...entry.header, mode } };
}

function atEpoch(entry: TarEntry): TarEntry {
  return { ...entry, header: { ...entry.header, mtime: EPOCH } };
}

function platformKey({ os, architecture, variant }: Platform): string {
  return [os, architecture, variant].filter(Boolean).join('/');
}

function samePlatform(a: Platform, b: Platform): boolean {
  return platformKey(a) === platformKey(b);
}

/** The layer's tar through gzip, produced as it is read. */
function gzipLayer(spec: LayerSpec): AsyncIterable<Buffer> {
  // The callback only silences pipeline's own report: errors also reach the reader.
  return pipeline(Readable.from(layerTar(spec)), createGzip({ level: LAYER_GZIP_LEVEL }), () => {});
}

/** Compresses each distinct layer once (`known` is keyed by diffID) to learn its blob digest. */
async function compressLayers(layers: MeasuredLayer[], known: Map<string, CompressedLayer>): Promise<CompressedLayer[]> {
  const result: CompressedLayer[] = [];
  for (const layer of layers) {
    let compressed = known.get(layer.diffID);
    if (!compressed) {
      compressed = { ...layer, ...(await measureStream(gzipLayer(layer.spec))) };
      known.set(layer.diffID, compressed);
    }
    result.push(compressed);
  }
  return result;
}

function gzipLayerEntry(name: string, layer: CompressedLayer, mode?: number): TarEntry {
  return fileEntry(name, layer.size, () => gzipLayer(layer.spec), mode);
}

interface ImageName {
  domain: string;
  path: string;
  tag: string;
}

/** Normalizes like docker's reference package: `rancher/x:1` → docker.io/rancher/x, tag 1. */
function parseImageName(repoTag: string): ImageName {
  const [repo, tag] = splitRepoTag(repoTag);
  const [first, ...rest] = repo.split('/');
  const hasDomain = rest.length > 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const domain = !hasDomain || first === 'index.docker.io' ? 'docker.io' : first;
  const repoPath = hasDomain ? rest.join('/') : repo;
  return { domain, path: domain === 'docker.io' && !repoPath.includes('/') ? `library/${repoPath}` : repoPath, tag };
}

function fullName({ domain, path: repoPath, tag }: ImageName): string {
  return `${domain}/${repoPath}:${tag}`;
}

/** `docker.io/library/busybox:1` → `busybox:1`, as docker and containerd write RepoTags. */
function familiarName({ domain, path: repoPath, tag }: ImageName): string {
  if (domain !== 'docker.io') return fullName({ domain, path: repoPath, tag });
  return `${repoPath.replace(/^library\//, '')}:${tag}`;
}

function nameAnnotations(name: ImageName): Record<string, string> {
  return { [ANNOTATION_IMAGE_NAME]: fullName(name), [ANNOTATION_REF_NAME]: name.tag };
}

// ---------------------------------------------------------------------------
// Docker ≥ 25 `docker save`

export interface DockerOciImage extends WrittenImage {
  /** The OCI image manifest blob that index.json points at for each tag. */
  manifest: JsonBlob;
}

/** Compact, as Go's json.Marshal writes it; layers are the uncompressed tars, digest = diffID. */
function dockerSavedManifest(plan: ImagePlan): JsonBlob {
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.oci.manifest,
    config: { mediaType: MEDIA_TYPES.oci.config, digest: plan.configDigest, size: plan.configBytes.length },
    layers: plan.layers.map((layer) => ({ mediaType: OCI_LAYER_TAR, digest: layer.diffID, size: layer.tarSize })),
  };
  return jsonBlob(MEDIA_TYPES.oci.manifest, jsonBytes(manifest));
}

/** Config, layers, the v1 layer JSONs docker still writes (referenced by nothing) and the manifest. */
function dockerSavedBlobs(plan: ImagePlan, manifest: JsonBlob): TarEntry[] {
  return [
    bytesEntry(blobPath(plan.configDigest), plan.configBytes),
    ...plan.layers.map((layer) => fileEntry(blobPath(layer.diffID), layer.tarSize, () => layerTar(layer.spec))),
    ...legacyLayers(plan).map(({ json }) => {
      const bytes = jsonBytes(json);
      return bytesEntry(blobPath(`sha256:${sha256Hex(bytes)}`), bytes);
    }),
    atEpoch(bytesEntry(blobPath(manifest.digest), manifest.bytes)),
  ];
}

/**
 * Writes what `docker save` of Docker ≥ 25 writes: blobs, then index.json (one descriptor per
 * tag), manifest.json, oci-layout and repositories, in lexical order like docker's temp-dir walk.
 */
export async function writeDockerOciBundle(file: string, spec: BundleSpec): Promise<{ images: DockerOciImage[] }> {
  const plans = await planImages(spec);
  const blobs = new Map<string, TarEntry>();
  const index: object[] = [];
  const manifestJson: object[] = [];
  const tops: Array<{ repoTags: string[]; topLayerId: string }> = [];
  const images: DockerOciImage[] = [];
  for (const plan of plans) {
    const manifest = dockerSavedManifest(plan);
    for (const entry of dockerSavedBlobs(plan, manifest)) blobs.set(entry.header.name, entry);
    const names = plan.image.repoTags.map(parseImageName);
    const repoTags = names.map(familiarName);
    const { mediaType, digest, size } = manifest;
    index.push(...names.map((name) => ({ mediaType, digest, size, annotations: nameAnnotations(name) })));
    const diffIDs = plan.layers.map((layer) => layer.diffID);
    manifestJson.push({ Config: blobPath(plan.configDigest), RepoTags: repoTags, Layers: diffIDs.map(blobPath) });
    tops.push({ repoTags, topLayerId: digestHex(diffIDs[diffIDs.length - 1]) });
    images.push({ repoTags: plan.image.repoTags, configDigest: plan.configDigest, diffIDs, manifest });
  }
  const newline = Buffer.from('\n'); // json.Encoder ends its output with one
  const metadata = [
    directoryEntry('blobs'),
    directoryEntry('blobs/sha256'),
    bytesEntry('index.json', jsonBytes({ schemaVersion: 2, mediaType: MEDIA_TYPES.oci.index, manifests: index })),
    bytesEntry('manifest.json', Buffer.concat([jsonBytes(manifestJson), newline])),
    bytesEntry('oci-layout', Buffer.from('{"imageLayoutVersion": "1.0.0"}')),
    bytesEntry('repositories', Buffer.concat([jsonBytes(repositoriesJson(tops)), newline])),
  ].map(atEpoch);
  await writeTarFile(file, sortedEntries([...blobs.values(), ...metadata]), spec.compression ?? 'none');
  return { images };
}

// ---------------------------------------------------------------------------
// Upstream multi-arch images, as a registry serves them

export interface UpstreamSpec {
  /** The children of every upstream index, in index order, unless `imagePlatforms` says otherwise. */
  allPlatforms: Platform[];
  /** The images as built for one platform; an image is matched across platforms by its first repo tag. */
  images: (platform: Platform) => ImageSpec[];
  /** By first repo tag: an index's children when not `allPlatforms` (e.g. only arm/v6, or an extra s390x). */
  imagePlatforms?: Record<string, Platform[]>;
  /** By first repo tag: the media types of the index and its manifests; default 'docker'. */
  families?: Record<string, ManifestFamily>;
}

export interface UpstreamChild {
  platform: Platform;
  manifest: JsonBlob;
  config: JsonBlob;
  layers: CompressedLayer[];
}

export interface UpstreamImage {
  repoTags: string[];
  family: ManifestFamily;
  /** The manifest list or OCI index, listing every child with its platform. */
  index: JsonBlob;
  children: UpstreamChild[];
}

/** Every upstream image with its digests; identical for every bundle written from one spec. */
export interface UpstreamPlan {
  images: UpstreamImage[];
}

/** Registries keep the bytes as pushed: docker indents by 3, buildkit by 2. */
function registryJson(family: ManifestFamily, value: object): Buffer {
  return Buffer.from(JSON.stringify(value, null, family === 'docker' ? 3 : 2));
}

/** Docker's distribution.Descriptor puts size before digest; the OCI struct, digest first. */
function registryDescriptor(family: ManifestFamily, blob: { mediaType: string; digest: string; size: number }, platform?: Platform): object {
  const { mediaType, digest, size } = blob;
  const fields = family === 'docker' ? { mediaType, size, digest } : { mediaType, digest, size };
  return platform ? { ...fields, platform } : fields;
}

function indexPlatforms(spec: UpstreamSpec, repoTag: string): Platform[] {
  return spec.imagePlatforms?.[repoTag] ?? spec.allPlatforms;
}

function builtPlatforms(spec: UpstreamSpec): Platform[] {
  const all = [...spec.allPlatforms, ...Object.values(spec.imagePlatforms ?? {}).flat()];
  return [...new Map(all.map((platform) => [platformKey(platform), platform])).values()];
}

/** Plans each image for each platform in its index: first repo tag → platform key → plan. */
async function planBuilds(spec: UpstreamSpec): Promise<Map<string, Map<string, ImagePlan>>> {
  const builds = new Map<string, Map<string, ImagePlan>>();
  for (const platform of builtPlatforms(spec)) {
    const images = spec
      .images(platform)
      .filter((image) => indexPlatforms(spec, image.repoTags[0]).some((p) => samePlatform(p, platform)));
    for (const plan of await planImages({ platform, images })) {
      const repoTag = plan.image.repoTags[0];
      if (!builds.has(repoTag)) builds.set(repoTag, new Map());
      builds.get(repoTag)!.set(platformKey(platform), plan);
    }
  }
  return builds;
}

async function upstreamChild(family: ManifestFamily, plan: ImagePlan, known: Map<string, CompressedLayer>): Promise<UpstreamChild> {
  const types = MEDIA_TYPES[family];
  const layers = await compressLayers(plan.layers, known);
  const config = jsonBlob(types.config, plan.configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: registryDescriptor(family, config),
    layers: layers.map((layer) => registryDescriptor(family, { ...layer, mediaType: types.layer })),
  };
  return { platform: plan.platform, manifest: jsonBlob(types.manifest, registryJson(family, manifest)), config, layers };
}

function upstreamIndex(family: ManifestFamily, children: UpstreamChild[]): JsonBlob {
  const mediaType = MEDIA_TYPES[family].index;
  const manifests = children.map((child) => registryDescriptor(family, child.manifest, child.platform));
  return jsonBlob(mediaType, registryJson(family, { schemaVersion: 2, mediaType, manifests }));
}

/** Builds every child of every upstream index, gzipping each distinct layer once. */
export async function planUpstream(spec: UpstreamSpec): Promise<UpstreamPlan> {
  const known = new Map<string, CompressedLayer>();
  const images: UpstreamImage[] = [];
  for (const [repoTag, plans] of await planBuilds(spec)) {
    const family = spec.families?.[repoTag] ?? 'docker';
    const children: UpstreamChild[] = [];
    for (const platform of indexPlatforms(spec, repoTag)) {
      const plan = plans.get(platformKey(platform));
      if (!plan) throw new Error(`images(${platformKey(platform)}) has no ${repoTag}`);
      children.push(await upstreamChild(family, plan, known));
    }
    const { repoTags } = [...plans.values()][0].image;
    images.push({ repoTags, family, index: upstreamIndex(family, children), children });
  }
  return { images };
}

// ---------------------------------------------------------------------------
// `ctr images export --platform …`

export interface CtrExportSpec extends UpstreamSpec {
  /** The `--platform` flags, in preference order: manifest.json names the first one an image has. */
  platforms: Platform[];
  /** Default 'none', like ctr itself. */
  compression?: 'gzip' | 'none';
}

export interface CtrExportedImage {
  image: UpstreamImage;
  /** The children whose blobs the bundle holds, best first: `bundled[0]` is the one manifest.json names. */
  bundled: UpstreamChild[];
}

export interface CtrExportResult {
  /** Pass it to the next writeCtrExportBundle of the same spec to skip measuring again. */
  upstream: UpstreamPlan;
  images: CtrExportedImage[];
}

/** Like the exporter's platform matcher: exact os/architecture/variant, ranked by flag order. */
function selectChildren(image: UpstreamImage, platforms: Platform[]): UpstreamChild[] {
  const bundled = platforms.flatMap((platform) => image.children.filter((child) => samePlatform(child.platform, platform)));
  if (bundled.length === 0) {
    throw new Error(`no manifest found for platform: ${image.repoTags[0]} has none of ${platforms.map(platformKey).join(', ')}`);
  }
  return bundled;
}

/** containerd's blob records are read-only files. */
function ctrBlobEntries({ image, bundled }: CtrExportedImage): TarEntry[] {
  const jsonEntry = (blob: JsonBlob) => bytesEntry(blobPath(blob.digest), blob.bytes, 0o444);
  return [
    jsonEntry(image.index),
    ...bundled.flatMap((child) => [
      jsonEntry(child.manifest),
      jsonEntry(child.config),
      ...child.layers.map((layer) => gzipLayerEntry(blobPath(layer.digest), layer, 0o444)),
    ]),
  ];
}

/** Each name points at the upstream index: its media type, no platform, plus the pull's source label. */
function ctrIndexDescriptors({ image }: CtrExportedImage): object[] {
  const { mediaType, digest, size } = image.index;
  return image.repoTags.map(parseImageName).map((name) => ({
    mediaType,
    digest,
    size,
    annotations: { [`containerd.io/distribution.source.${name.domain}`]: name.path, ...nameAnnotations(name) },
  }));
}

function ctrManifestJsonItem({ image, bundled: [named] }: CtrExportedImage): object {
  return {
    Config: blobPath(named.config.digest),
    RepoTags: image.repoTags.map((repoTag) => familiarName(parseImageName(repoTag))),
    Layers: named.layers.map((layer) => blobPath(layer.digest)),
  };
}

/**
 * Writes what `ctr images export --platform P…` writes for images pulled with all platforms:
 * each upstream index blob whole (so it still lists every platform) but only the selected
 * platforms' manifests, configs and gzip layers; index.json naming the index; manifest.json
 * naming one child per image. Entries are sorted by name, as containerd writes them.
 */
export async function writeCtrExportBundle(file: string, spec: CtrExportSpec, upstream?: UpstreamPlan): Promise<CtrExportResult> {
  const plan = upstream ?? (await planUpstream(spec));
  const exported = plan.images.map((image) => ({ image, bundled: selectChildren(image, spec.platforms) }));
  const blobs = new Map(exported.flatMap(ctrBlobEntries).map((entry) => [entry.header.name, entry]));
  const metadata = [
    directoryEntry('blobs'),
    directoryEntry('blobs/sha256'),
    bytesEntry('index.json', jsonBytes({ schemaVersion: 2, manifests: exported.flatMap(ctrIndexDescriptors) })),
    bytesEntry('manifest.json', jsonBytes(exported.map(ctrManifestJsonItem))),
    withMode(bytesEntry('oci-layout', jsonBytes({ imageLayoutVersion: '1.0.0' })), 0o444),
  ];
  const entries = sortedEntries([...blobs.values(), ...metadata]).map(atEpoch);
  await writeTarFile(file, entries, spec.compression ?? 'none');
  return { upstream: plan, images: exported };
}

// ---------------------------------------------------------------------------
// `crane pull --format tarball`

export interface CraneImage extends WrittenImage {
  /** The gzip blobs, stored as `<hex>.tar.gz`. */
  layers: CompressedLayer[];
}

/**
 * Writes what go-containerregistry's tarball.Write writes: per image its config as
 * `sha256:<hex>` then its not-yet-written layers as `<hex>.tar.gz` (compressed digest), and
 * manifest.json last, sorted by RepoTags, which are kept exactly as given.
 */
export async function writeCraneBundle(file: string, spec: BundleSpec): Promise<{ images: CraneImage[] }> {
  const known = new Map<string, CompressedLayer>();
  const entries = new Map<string, TarEntry>();
  const images: CraneImage[] = [];
  for (const plan of await planImages(spec)) {
    const layers = await compressLayers(plan.layers, known);
    entries.set(plan.configDigest, bytesEntry(plan.configDigest, plan.configBytes));
    for (const layer of layers) {
      const name = `${digestHex(layer.digest)}.tar.gz`;
      if (!entries.has(name)) entries.set(name, gzipLayerEntry(name, layer));
    }
    const { repoTags } = plan.image;
    images.push({ repoTags, configDigest: plan.configDigest, diffIDs: plan.layers.map((layer) => layer.diffID), layers });
  }
  const manifest = images
    .map(({ repoTags, configDigest, layers }) => ({
      Config: configDigest,
      RepoTags: repoTags,
      Layers: layers.map((layer) => `${digestHex(layer.digest)}.tar.gz`),
    }))
    .sort((a, b) => (a.RepoTags.join(',') < b.RepoTags.join(',') ? -1 : 1));
  entries.set('manifest.json', bytesEntry('manifest.json', jsonBytes(manifest)));
  await writeTarFile(file, [...entries.values()].map(atEpoch), spec.compression ?? 'none');
  return { images };
}

// ---------------------------------------------------------------------------
// k3s-like fixtures

const AMD64: Platform = { os: 'linux', architecture: 'amd64' };
const ARM64: Platform = { os: 'linux', architecture: 'arm64' };
const ARM_V6: Platform = { os: 'linux', architecture: 'arm', variant: 'v6' };
const ARM_V7: Platform = { os: 'linux', architecture: 'arm', variant: 'v7' };
const S390X: Platform = { os: 'linux', architecture: 's390x' };

export const K3S_TRAEFIK = 'rancher/mirrored-library-traefik:2.9.10';
export const K3S_BUSYBOX = 'rancher/mirrored-library-busybox:1.36.1';
export const K3S_HELM = 'rancher/klipper-helm:v0.8.0-build20230510';
export const K3S_PAUSE = 'rancher/mirrored-pause:3.6';

/** k3s's per-arch `ctr images export` selections, by bundle arch name: arm keeps v7 and v6. */
export const CTR_BUNDLE_PLATFORMS: Record<string, Platform[]> = Object.fromEntries(
  K3S_PLATFORMS.map((platform) => [archName(platform), samePlatform(platform, ARM_V7) ? [ARM_V7, ARM_V6] : [platform]]),
);

/** arm/v7 keeps the legacy bundles' `arm` content (same diffIDs); arm/v6 gets its own. */
function k3sContentArch(platform: Platform): string {
  return samePlatform(platform, ARM_V6) ? 'armv6' : platform.architecture;
}

/**
 * The k3sLikeImages as multi-arch upstream images: amd64, arm64 and arm/v7, except traefik
 * (amd64, arm/v6, arm64 — covered by the arm bundle only through v6) and busybox (also arm/v6
 * and linux/s390x, which no bundle holds). Traefik and klipper-helm are OCI, the rest Docker.
 */
export function k3sLikeUpstream(opts: { scale?: number } = {}): UpstreamSpec {
  return {
    allPlatforms: K3S_PLATFORMS,
    images: (platform) => k3sLikeImages(k3sContentArch(platform), opts),
    imagePlatforms: { [K3S_TRAEFIK]: [AMD64, ARM_V6, ARM64], [K3S_BUSYBOX]: [AMD64, ARM_V6, ARM_V7, ARM64, S390X] },
    families: { [K3S_TRAEFIK]: 'oci', [K3S_HELM]: 'oci' },
  };
}

/**
 * Writes `docker25-airgap-images-amd64.tar`, `ctr-airgap-images-{amd64,arm64,arm}.tar` (one
 * upstream plan, so every bundle carries the same index blobs) and `crane-pause-arm64.tar`.
 */
export async function writeOciFixtures(outDir: string, opts: { scale?: number } = {}): Promise<string[]> {
  const written: string[] = [];
  const docker25 = path.join(outDir, 'docker25-airgap-images-amd64.tar');
  await writeDockerOciBundle(docker25, { platform: AMD64, images: k3sLikeImages(archName(AMD64), opts) });
  written.push(docker25);

  const upstreamSpec = k3sLikeUpstream(opts);
  let upstream: UpstreamPlan | undefined;
  for (const [arch, platforms] of Object.entries(CTR_BUNDLE_PLATFORMS)) {
    const file = path.join(outDir, `ctr-airgap-images-${arch}.tar`);
    ({ upstream } = await writeCtrExportBundle(file, { ...upstreamSpec, platforms }, upstream));
    written.push(file);
  }

  const crane = path.join(outDir, 'crane-pause-arm64.tar');
  const pause = k3sLikeImages(archName(ARM64), opts).filter((image) => image.repoTags.includes(K3S_PAUSE));
  await writeCraneBundle(crane, { platform: ARM64, images: pause });
  written.push(crane);
  return written;
}
