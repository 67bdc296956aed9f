/**
 * Smoke test of the integration harness itself: registries (plain, htpasswd, TLS), skopeo,
 * dockerd and containerd all start here and talk to each other.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import tar from 'tar-stream';
import { Agent, request, type Dispatcher } from 'undici';
import { startContainerd } from './helpers/containerd.js';
import { startDockerd } from './helpers/dockerd.js';
import { makeTestCA, startRegistry, type Registry } from './helpers/registry.js';
import { skopeo, tempDir } from './helpers/tools.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const foreignPlatform = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';

let registry: Registry;
let layout: string;
const dirs: string[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  layout = await scratchDir('airlift-layout-');
  await writeOciLayout(layout, 'multi', ['amd64', 'arm64']);
});
afterAll(async () => {
  await registry?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('registry', () => {
  test('answers /v2/, and skopeo reaches it (manifest unknown, not a connection error)', async () => {
    expect(await v2Status(`http://${registry.host}/v2/`)).toBe(200);
    await expect(skopeo(['inspect', '--tls-verify=false', `docker://${registry.host}/nothing:1`])).rejects.toThrow(/manifest unknown/);
  });

  test('restarts on the same port and data after being killed', async () => {
    const ref = `docker://${registry.host}/restart:1`;
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, ref]);
    const before = await skopeo(['inspect', '--raw', '--tls-verify=false', ref]);
    await registry.kill();
    expect(await v2Status(`http://${registry.host}/v2/`)).toBeUndefined();
    await registry.restart();
    expect(await skopeo(['inspect', '--raw', '--tls-verify=false', ref])).toBe(before);
  });

  test('with htpasswd, requires the credentials', async () => {
    const auth = await startRegistry({ htpasswd: { username: 'alice', password: 's3cret' } });
    try {
      const url = `http://${auth.host}/v2/`;
      expect(await v2Status(url)).toBe(401);
      const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
      expect(await v2Status(url, { headers: { authorization: basic } })).toBe(200);
      const target = `docker://${auth.host}/nothing:1`;
      await expect(skopeo(['inspect', '--tls-verify=false', target])).rejects.toThrow(/authentication required|unauthorized/i);
      await expect(skopeo(['inspect', '--tls-verify=false', '--creds', 'alice:s3cret', target])).rejects.toThrow(/manifest unknown/);
    } finally {
      await auth.stop();
    }
  });

  test('with TLS, is trusted through the test CA', async () => {
    const caDir = await scratchDir('airlift-ca-');
    const ca = await makeTestCA(caDir);
    const secure = await startRegistry({ tls: ca });
    const dispatcher = new Agent({ connect: { ca: await readFile(ca.caFile) } });
    try {
      expect(await v2Status(`https://${secure.host}/v2/`, { dispatcher })).toBe(200);
      await expect(skopeo(['inspect', '--cert-dir', caDir, `docker://${secure.host}/nothing:1`])).rejects.toThrow(/manifest unknown/);
    } finally {
      await dispatcher.destroy();
      await secure.stop();
    }
  });
});

test('dockerd imports a rootfs and saves a docker-archive that skopeo pushes', async () => {
  const dockerd = await startDockerd();
  if (!dockerd) {
    console.log('dockerd is not available; skipping');
    return;
  }
  try {
    expect(await dockerd.docker(['version', '--format', '{{.Server.Version}}'])).toMatch(/^\d+\.\d+/);
    await dockerd.docker(['import', '-', 'tiny:1'], await tarOf({ 'hello.txt': 'hello\n' }));
    const archive = join(await scratchDir('airlift-save-'), 'tiny.tar');
    await dockerd.docker(['save', '-o', archive, 'tiny:1']);
    expect(await tarNames(archive)).toContain('manifest.json');

    const ref = `docker://${registry.host}/tiny:1`;
    await skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, ref]);
    const manifest = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', ref]));
    expect(manifest.layers).toHaveLength(1);
  } finally {
    await dockerd.stop();
  }
});

test('containerd pulls the host platform and a foreign one from the registry', async () => {
  const containerd = await startContainerd();
  if (!containerd) {
    console.log('containerd is not available; skipping');
    return;
  }
  try {
    expect(await containerd.ctr(['version'])).toContain('Server:');
    const ref = `${registry.host}/multi:1`;
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${ref}`]);
    const index = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
    const foreign = index.manifests.find((m: { platform: { architecture: string } }) => foreignPlatform.endsWith(m.platform.architecture));

    await containerd.ctr(['images', 'pull', '--plain-http', ref]);
    expect(await containerd.ctr(['content', 'ls', '-q'])).not.toContain(foreign.digest);
    await containerd.pullPlatform(ref, foreignPlatform);
    expect(await containerd.ctr(['content', 'ls', '-q'])).toContain(foreign.digest);
    await expect(containerd.pullPlatform(ref, 'linux/s390x')).rejects.toThrow(/no match for platform/);
  } finally {
    await containerd.stop();
  }
});

async function scratchDir(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  dirs.push(dir);
  return dir;
}

/** Status of GET url, or undefined when nothing answers. */
async function v2Status(url: string, opts: { dispatcher?: Dispatcher; headers?: Record<string, string> } = {}) {
  try {
    const res = await request(url, opts);
    await res.body.dump();
    return res.statusCode;
  } catch {
    return undefined;
  }
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name }, content);
  pack.finalize();
  return buffer(pack);
}

async function tarNames(file: string): Promise<string[]> {
  const extract = tar.extract();
  createReadStream(file).pipe(extract);
  const names: string[] = [];
  for await (const entry of extract) {
    names.push(entry.header.name);
    entry.resume();
  }
  return names;
}

/** An OCI image layout whose `name` is an index of one tiny single-layer image per architecture. */
async function writeOciLayout(dir: string, name: string, architectures: string[]): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = async (mediaType: string, data: Buffer) => {
    const digest = sha256(data);
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
    return { mediaType, digest, size: data.length };
  };
  const json = (mediaType: string, value: object) => blob(mediaType, Buffer.from(JSON.stringify(value)));

  const manifests = [];
  for (const architecture of architectures) {
    const layer = await tarOf({ arch: `${architecture}\n` });
    const rootfs = { type: 'layers', diff_ids: [sha256(layer)] };
    const config = await json('application/vnd.oci.image.config.v1+json', { architecture, os: 'linux', rootfs });
    const layers = [await blob('application/vnd.oci.image.layer.v1.tar', layer)];
    const manifest = await json(OCI_MANIFEST, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers });
    manifests.push({ ...manifest, platform: { architecture, os: 'linux' } });
  }
  const index = await json(OCI_INDEX, { schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  const annotations = { 'org.opencontainers.image.ref.name': name };
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...index, annotations }] }));
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
