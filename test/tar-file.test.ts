/**
 * Walking a plain tar file by its headers (tar-file.ts) gives the same entries and bodies as
 * tar-stream's sequential walk, on what real producers and GNU tar write, and scanning a plain
 * bundle reads its headers and metadata, not its layers.
 */
import { describe, expect, test } from '@jest/globals';

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanArchive } from '../src/archive/scan.js';
import { walkTar } from '../src/archive/tar.js';
import { walkTarFile } from '../src/archive/tar-file.js';
import { bytesReadByThisProcess, packed } from './helpers/tar.js';
import { runOrThrow, tempDir } from './helpers/tools.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');

/** Every entry, with a digest of its body, as one walk or the other sees it. */
async function listing(walk: (visit: Parameters<typeof walkTar>[1]) => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  await walk(async (entry, body) => {
    const hash = createHash('sha256');
    for await (const chunk of body) hash.update(chunk as Buffer);
    seen.push(JSON.stringify({ ...entry, body: hash.digest('hex') }));
  });
  return seen;
}

async function expectSameWalks(file: string): Promise<string[]> {
  const byHeaders = await listing((visit) => walkTarFile(file, visit));
  expect(byHeaders).toEqual(await listing((visit) => walkTar(createReadStream(file), visit)));
  return byHeaders;
}

describe('the same entries as tar-stream', () => {
  test.each(['crane-pause-arm64.tar', 'ctr-airgap-images-arm.tar', 'docker25-airgap-images-amd64.tar', 'k3s-airgap-images-amd64.tar'])(
    'fixture %s',
    async (name) => {
      expect((await expectSameWalks(join(fixtures, name))).length).toBeGreaterThan(2);
    },
  );

  // Long names (GNU 'L' headers, pax 'path', ustar prefixes), long link targets, hard links,
  // directories, empty files and bodies that end on and just past a block boundary.
  test.each(['gnu', 'oldgnu', 'pax', 'ustar'])('GNU tar --format=%s', async (format) => {
    const dir = await tempDir('airlift-tarfmt-');
    const tree = join(dir, 'tree');
    // ustar's longest name is a 155-byte prefix and a 100-byte name.
    const deep = join(tree, 'd'.repeat(60), 'e'.repeat(60), ...(format === 'ustar' ? [] : ['f'.repeat(60)]));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, `${'n'.repeat(90)}.json`), '{"a":1}');
    await writeFile(join(tree, 'empty'), '');
    await writeFile(join(tree, 'block'), Buffer.alloc(512, 7));
    await writeFile(join(tree, 'block-and-one'), Buffer.alloc(513, 8));
    await writeFile(join(tree, 'ünïcode'), 'x');
    await link(join(tree, 'block'), join(tree, 'hard'));
    await symlink(`${'../'.repeat(2)}${'t'.repeat(120)}`, join(tree, 'far'));
    const file = join(dir, `${format}.tar`);
    // ustar cannot hold the long link target: it gets its own archive without it.
    if (format === 'ustar') await runOrThrow('rm', [join(tree, 'far')]);
    await runOrThrow('tar', ['-C', tree, `--format=${format}`, '-cf', file, '.']);
    const walked = (await expectSameWalks(file)).map(
      (line) => JSON.parse(line) as { name: string | null; type: string; linkname?: string },
    );
    expect(walked.find((e) => e.name?.endsWith('.json'))?.name?.length).toBeGreaterThan(format === 'ustar' ? 200 : 250);
    expect(walked.find((e) => e.name === 'hard')).toMatchObject({ type: 'link', linkname: './block' });
    if (format !== 'ustar') expect(walked.find((e) => e.name === 'far')?.linkname?.length).toBeGreaterThan(100);
  });

  test('a size in base-256, as GNU tar writes sizes of 8 GiB and more', async () => {
    const archive = await packed([{ name: 'layer.tar', body: Buffer.alloc(1000, 1) }]);
    const header = archive.subarray(0, 512);
    header.fill(0, 124, 136);
    header[124] = 0x80;
    header.writeUInt32BE(1000, 132);
    rewriteChecksum(header);
    const file = await writeTemp(archive);
    const [entry] = (await expectSameWalks(file)).map((line) => JSON.parse(line) as { size: number });
    expect(entry!.size).toBe(1000);
  });
});

describe('damaged plain tars fail with what is wrong', () => {
  test('cut inside a body', async () => {
    const archive = await packed([{ name: 'layer.tar', body: Buffer.alloc(5000, 1) }]);
    await expect(walkTarFile(await writeTemp(archive.subarray(0, 2048)), async () => {})).rejects.toThrow(/unexpected end of data/);
  });

  test('cut inside the padding after a body', async () => {
    const archive = await packed([{ name: 'a', body: Buffer.from('1') }]);
    await expect(walkTarFile(await writeTemp(archive.subarray(0, 700)), async () => {})).rejects.toThrow(/unexpected end of data/);
  });

  test('cut inside a header', async () => {
    const archive = await packed([
      { name: 'a', body: Buffer.from('1') },
      { name: 'b', body: Buffer.from('2') },
    ]);
    await expect(walkTarFile(await writeTemp(archive.subarray(0, 1024 + 300)), async () => {})).rejects.toThrow(/unexpected end of data/);
  });

  test('a flipped byte in a header', async () => {
    const archive = await packed([{ name: 'a', body: Buffer.from('1') }]);
    archive[3] ^= 0x20;
    await expect(walkTarFile(await writeTemp(archive), async () => {})).rejects.toThrow(/bad checksum.*corrupt/);
  });
});

test('scanning a plain bundle reads its headers and metadata, not its layers', async () => {
  const layer = Buffer.alloc(64 * 1024 * 1024, 3);
  const manifest = Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['a:1'], Layers: ['l/layer.tar'] }]));
  const file = await writeTemp(
    await packed([
      { name: 'l/layer.tar', body: layer },
      { name: 'c.json', body: Buffer.from('{"architecture":"amd64","os":"linux"}') },
      { name: 'manifest.json', body: manifest },
    ]),
  );
  const before = await bytesReadByThisProcess();
  const contents = await scanArchive({ path: file, file });
  const read = (await bytesReadByThisProcess()) - before;
  expect(contents.compression).toBe('none');
  expect(contents.documents.get('manifest.json')).toEqual(manifest);
  expect(contents.heads.get('l/layer.tar')).toEqual(layer.subarray(0, 8));
  expect(read).toBeLessThan(64 * 1024);
});

function rewriteChecksum(header: Buffer): void {
  header.fill(0x20, 148, 156);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

async function writeTemp(bytes: Buffer): Promise<string> {
  const file = join(await tempDir('airlift-tarfile-'), 'bundle.tar');
  await writeFile(file, bytes);
  return file;
}
