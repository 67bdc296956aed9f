/**
 * A source registry with content: the fixture bundles loaded with `airlift load`, giving eight
 * k3s-like tags, each an OCI index of linux/amd64, linux/arm64 and linux/arm/v7.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from './registry.js';
import { request } from 'undici';
import { runAirlift, tempDir } from './tools.js';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures');
export const fixtureBundles = ['amd64', 'arm64', 'arm'].map((arch) => join(fixtures, `k3s-airgap-images-${arch}.tar.gz`));

export const seededImages = [
  'rancher/klipper-helm:v0.8.0-build20230510',
  'rancher/klipper-lb:v0.4.4',
  'rancher/local-path-provisioner:v0.0.24',
  'rancher/mirrored-coredns-coredns:1.10.1',
  'rancher/mirrored-library-busybox:1.36.1',
  'rancher/mirrored-library-traefik:2.9.10',
  'rancher/mirrored-metrics-server:v0.6.3',
  'rancher/mirrored-pause:3.6',
];

/** What `airlift load --json` prints, as far as tests read it. */
export interface LoadJson {
  images: Array<{
    target: string;
    indexDigest: string;
    sources: unknown[];
    platforms: Array<{ platform: string; manifestDigest: string; configDigest: string }>;
  }>;
  bytesUploaded: number;
  durationMs: number;
}

/** Three that cover the shapes: a shared base layer (klipper-lb, traefik), a repeated empty layer (traefik), one layer (pause). */
export const someSeededImages = ['rancher/klipper-lb:v0.4.4', 'rancher/mirrored-library-traefik:2.9.10', 'rancher/mirrored-pause:3.6'];

/** What `airlift load --json` reports per tag. */
export interface SeededImage {
  target: string;
  indexDigest: string;
  platforms: Array<{ platform: string; manifestDigest: string; configDigest: string }>;
}

export async function seedRegistry(registry: Registry): Promise<SeededImage[]> {
  const cache = await tempDir('airlift-seed-cache-');
  const run = await runAirlift(['load', '--registry', registry.host, '--plain-http', '--quiet', '--json', ...fixtureBundles], {
    env: { XDG_CACHE_HOME: cache },
  });
  if (run.code !== 0) throw new Error(`seeding ${registry.host} failed:\n${run.stderr}`);
  return (JSON.parse(run.stdout) as { images: SeededImage[] }).images;
}

/** A k3s-images.txt naming every seeded image the way k3s lists them. */
export async function seededImageList(): Promise<string> {
  const file = join(await tempDir('airlift-list-'), 'k3s-images.txt');
  await writeFile(file, `# k3s images\n${seededImages.map((image) => `docker.io/${image}`).join('\n')}\n`);
  return file;
}

export interface IndexEntry {
  digest: string;
  platform: { os: string; architecture: string; variant?: string };
}

const manifestAccept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The raw manifest at `ref` (`host/repo:tag` or `host/repo@digest`) of a plain-HTTP registry, by a plain GET (skopeo costs ~0.3 s a call). */
export async function rawManifest(ref: string): Promise<string> {
  const slash = ref.indexOf('/');
  const split = ref.includes('@') ? ref.indexOf('@') : ref.lastIndexOf(':');
  const url = `http://${ref.slice(0, slash)}/v2/${ref.slice(slash + 1, split)}/manifests/${ref.slice(split + 1)}`;
  const res = await request(url, { headers: { accept: manifestAccept } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${text}`);
  return text;
}

export const platformOf = (entry: IndexEntry): string =>
  [entry.platform.os, entry.platform.architecture, entry.platform.variant].filter(Boolean).join('/');

/** platform → child manifest digest of the index at `ref`. */
export async function childDigests(ref: string): Promise<Record<string, string>> {
  const index = JSON.parse(await rawManifest(ref)) as { manifests: IndexEntry[] };
  return Object.fromEntries(index.manifests.map((entry) => [platformOf(entry), entry.digest]));
}
