/** The layer compressor: valid gzip for real gunzip, deterministic, stored blocks for random data. */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { constants, crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { BlockGzip, looksRandom } from '../src/load/block-gzip.js';
import { runOrThrow, tempDir } from './helpers/tools.js';

async function compress(chunks: Buffer[], level = 1): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of Readable.from(chunks).pipe(new BlockGzip(level))) out.push(piece as Buffer);
  return Buffer.concat(out);
}

/** Text that deflate shrinks several times, as layers of scripts and configs do. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, size = 0; size < bytes; i++) {
    const line = `line ${i % 977}: lorem ipsum dolor ${(i * 7919) % 10007} sit amet\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

function chunked(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) chunks.push(data.subarray(offset, offset + size));
  return chunks;
}

const mib = 1024 * 1024;
const samples: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  'one byte': Buffer.from('x'),
  text: text(3 * mib + 12345),
  random: randomBytes(3 * mib + 777),
  'exactly two blocks': randomBytes(2 * mib),
  mixed: Buffer.concat([text(mib + 5), randomBytes(2 * mib), text(300_000), randomBytes(70_000)]),
};

describe('BlockGzip', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('block-gzip-');
  });

  test.each(Object.keys(samples))('%s: gzip -t accepts it and gzip -dc gives the input back', async (name) => {
    const data = samples[name]!;
    const file = join(dir, `${name.replace(/ /g, '-')}.gz`);
    await writeFile(file, await compress([data]));
    await runOrThrow('gzip', ['-t', file]);
    const back = await runOrThrow('sh', ['-c', `gzip -dc "$1" | sha256sum`, 'sh', file]);
    expect(back.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  test('the output depends on the bytes only, not on how they arrive', async () => {
    const data = samples.mixed!;
    const whole = await compress([data]);
    expect((await compress(chunked(data, 7777))).equals(whole)).toBe(true);
    expect((await compress(chunked(data, 3 * mib))).equals(whole)).toBe(true);
  });

  test('random blocks are stored: the output is the input plus a few bytes per 64 KiB', async () => {
    const data = samples.random!;
    const out = await compress([data]);
    expect(out.length).toBeGreaterThan(data.length);
    expect(out.length).toBeLessThan(data.length + Math.ceil(data.length / 65535) * 5 + 64);
  });

  test('each block is stored or deflated on its own: random blocks verbatim, text blocks deflated', async () => {
    const data = samples.mixed!;
    const out = await compress([data]);
    // zlib's own stored fallback never leaves 64 KiB verbatim in a row; a stored block does.
    expect(out.includes(data.subarray(2 * mib, 2 * mib + 65535))).toBe(true);
    expect(out.includes(data.subarray(0, 4096))).toBe(false);
  });

  test('blocks are independent raw deflates (memLevel 9) primed with the previous 32 KiB, in one gzip member', async () => {
    const data = samples.text!;
    const out = await compress([data]);
    const parts = [Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])];
    for (let offset = 0; offset < data.length; offset += mib) {
      const options = { level: 1, memLevel: 9, finishFlush: constants.Z_SYNC_FLUSH };
      const dictionary = offset ? { dictionary: data.subarray(offset - 32 * 1024, offset) } : {};
      parts.push(deflateRawSync(data.subarray(offset, offset + mib), { ...options, ...dictionary }));
    }
    expect(out.subarray(0, -13).equals(Buffer.concat(parts))).toBe(true);
    expect([...out.subarray(-13, -8)]).toEqual([0x01, 0x00, 0x00, 0xff, 0xff]);
    expect(out.readUInt32LE(out.length - 8)).toBe(crc32(data));
    expect(out.readUInt32LE(out.length - 4)).toBe(data.length);
  });

  test('text compresses about as well as one zlib stream at the same level', async () => {
    const data = samples.text!;
    const blocks = (await compress([data], 1)).length;
    const stream = gzipSync(data, { level: 1 }).length;
    expect(blocks).toBeLessThan(data.length / 3);
    expect(blocks / stream).toBeLessThan(1.02);
    expect((await compress([data], 9)).length).toBeLessThan(blocks);
  });

  test('looksRandom tells random bytes from text and binaries with structure', () => {
    expect(looksRandom([randomBytes(mib)])).toBe(true);
    expect(looksRandom(chunked(randomBytes(mib), 3333))).toBe(true);
    expect(looksRandom(chunked(text(mib), 100_000))).toBe(false);
    // Random bytes with every fourth one zero, like instruction streams: still worth deflating.
    const structured = randomBytes(mib);
    for (let i = 0; i < structured.length; i += 4) structured[i] = 0;
    expect(looksRandom([structured])).toBe(false);
  });
});
