/**
 * Bad bundles made from good ones (tar entries read, edited, written back), bundles with a
 * huge generated entry streamed to disk, and what a run left behind: files, registry tags,
 * peak memory.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import tar, { type Header } from 'tar-stream';
import { request } from 'undici';
import { sha256 } from '../../src/oci/digest.js';

export interface TarItem {
  header: Partial<Header> & Pick<Header, 'name'>;
  body: Buffer;
}

/** Every entry of a plain tar, bodies included (for small fixtures only). */
export async function readTarItems(file: string): Promise<TarItem[]> {
  const items: TarItem[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk) => chunks.push(chunk as Buffer));
    stream.on('end', () => {
      items.push({ header, body: Buffer.concat(chunks) });
      next();
    });
  });
  await pipeline(createReadStream(file), extract);
  return items;
}

export async function writeTarItems(file: string, items: TarItem[], opts: { gzip?: boolean } = {}): Promise<void> {
  const pack = tar.pack();
  for (const { header, body } of items) {
    if (header.type === 'file' || header.type === 'contiguous-file') pack.entry({ ...header, size: body.length }, body);
    else pack.entry({ ...header, size: 0 });
  }
  pack.finalize();
  await (opts.gzip ? pipeline(pack, createGzip(), createWriteStream(file)) : pipeline(pack, createWriteStream(file)));
}

export const fileItem = (name: string, body: Buffer | string): TarItem => ({
  header: { name, type: 'file', mode: 0o644 },
  body: Buffer.from(body),
});

export const linkItem = (name: string, linkname: string, type: 'symlink' | 'link' = 'symlink'): TarItem => ({
  header: { name, type, linkname, mode: 0o777 },
  body: Buffer.alloc(0),
});

/**
 * A gzip'd tar holding one entry of `size` bytes made by `chunks`, streamed: neither this
 * process nor the disk holds the uncompressed entry.
 */
export async function writeTarWithHugeEntry(file: string, name: string, size: number, chunks: () => Iterable<Buffer>): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createGzip({ level: 1 }), createWriteStream(file));
  const sink = pack.entry({ name, size, type: 'file', mode: 0o644 });
  for (const chunk of chunks()) if (!sink.write(chunk)) await once(sink, 'drain');
  sink.end(null);
  pack.finalize();
  await written;
}

/** `size` bytes of `fill`, a MiB at a time. */
export function* repeated(size: number, fill: string): Iterable<Buffer> {
  const block = Buffer.alloc(1 << 20, fill);
  for (let left = size; left > 0; left -= block.length) yield block.subarray(0, Math.min(left, block.length));
}

/** Every path under `dir`, relative and sorted. */
export async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

/** `repository:tag` of every tag under `namespace/` in a plain-HTTP registry. */
export async function registryTags(host: string, namespace: string): Promise<string[]> {
  const { repositories } = (await getJson(`http://${host}/v2/_catalog?n=1000`)) as { repositories: string[] };
  const perRepository = await Promise.all(
    repositories
      .filter((repo) => repo.startsWith(`${namespace}/`))
      .map(async (repo) => {
        // A repository that got blobs but no tag answers 404 or null tags.
        const listed = (await getJson(`http://${host}/v2/${repo}/tags/list`)) as { tags?: string[] | null } | undefined;
        return (listed?.tags ?? []).map((tag) => `${repo}:${tag}`);
      }),
  );
  return perRepository.flat().sort();
}

async function getJson(url: string): Promise<unknown> {
  const res = await request(url);
  if (res.statusCode === 404) {
    await res.body.dump();
    return undefined;
  }
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode}`);
  return res.body.json();
}

/**
 * Samples a process's peak resident memory (VmHWM) while it runs: pass `onStart` to `run`,
 * read `peakMiB()` after it exited. The kernel keeps the high-water mark, so sampling every
 * 10 ms misses at most the growth of the last 10 ms.
 */
export function peakRss(): { onStart: (pid: number) => void; peakMiB: () => number } {
  let peakKiB = 0;
  let timer: NodeJS.Timeout | undefined;
  const sample = (pid: number) => {
    try {
      const kib = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      peakKiB = Math.max(peakKiB, kib);
    } catch {
      clearInterval(timer);
    }
  };
  return {
    onStart: (pid) => {
      sample(pid);
      timer = setInterval(() => sample(pid), 10);
    },
    peakMiB: () => {
      clearInterval(timer);
      return peakKiB / 1024;
    },
  };
}

/**
 * An OCI image layout bundle (`oci-layout`, `index.json`, `blobs/sha256/…`, compressed layers,
 * as `ctr export` and Docker ≥ 25 write) holding one image made from a config and uncompressed
 * layer tars. `corruptLayer` flips a byte of the first compressed layer blob after naming it,
 * so its content no longer matches its name.
 */
export function ociLayoutItems(image: { ref: string; config: Buffer; layers: Buffer[] }, opts: { corruptLayer?: boolean } = {}): TarItem[] {
  const blob = (bytes: Buffer, mediaType: string) => ({ bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.length } });
  const layers = image.layers.map((layer) => blob(gzipSync(layer), 'application/vnd.oci.image.layer.v1.tar+gzip'));
  const config = blob(image.config, 'application/vnd.oci.image.config.v1+json');
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: config.descriptor,
        layers: layers.map((l) => l.descriptor),
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...manifest.descriptor, annotations: { 'io.containerd.image.name': image.ref, 'org.opencontainers.image.ref.name': image.ref } },
    ],
  };
  if (opts.corruptLayer) layers[0]!.bytes[layers[0]!.bytes.length >> 1] ^= 0xff;
  return [
    fileItem('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' })),
    fileItem('index.json', JSON.stringify(index)),
    ...[...layers, config, manifest].map((b) => fileItem(`blobs/sha256/${b.descriptor.digest.slice('sha256:'.length)}`, b.bytes)),
  ];
}
