/**
 * Deterministic, parallel gzip for layers, in the manner of pigz: the input is cut into
 * 1 MiB blocks that are deflated independently on libuv's thread pool, each primed with the
 * previous block's last 32 KiB as its dictionary (so the ratio stays close to one stream's),
 * and joined with sync flushes into one gzip member any gunzip reads.
 *
 * Blocks whose bytes look random (compressed files, encrypted or packed data) are written as
 * stored blocks instead: zlib spends ~25 ns per byte failing to compress them, and would end
 * up storing them anyway. The choice depends on the block's bytes only, so the output — and
 * the layer's digest — is the same on every run, whatever the input's chunking or the timing.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { constants, crc32, deflateRaw, type ZlibOptions } from 'node:zlib';

const BLOCK_SIZE = 1024 * 1024;
const WINDOW_SIZE = 32 * 1024;
/** Blocks being compressed at once per stream: enough to keep the thread pool busy. */
const IN_FLIGHT = 4;
/** The largest stored block deflate allows. */
const MAX_STORED = 0xffff;
/** A block whose sampled byte entropy is above this cannot shrink by more than ~1 %. */
const RANDOM_BITS_PER_BYTE = 7.9;
const SAMPLE_WINDOWS = 8;
const SAMPLE_WINDOW_SIZE = 8 * 1024;

/** gzip header: deflate, no name, mtime 0, OS "unknown", so the bytes never depend on the host. */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** An empty final stored block ends the deflate stream. */
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

const deflateRawAsync = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

export class BlockGzip extends Transform {
  private readonly pieces: Buffer[] = [];
  private buffered = 0;
  private readonly compressing: Array<Promise<Buffer[]>> = [];
  private dictionary: Buffer | undefined;
  private crc = 0;
  private size = 0;

  constructor(private readonly level: number) {
    super();
    this.push(HEADER);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pieces.push(chunk);
    this.buffered += chunk.length;
    this.drainFullBlocks().then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    if (this.buffered > 0) this.startBlock(this.takeBlock(this.buffered));
    this.emitCompressed(0)
      .then(() => {
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(this.crc, 0);
        trailer.writeUInt32LE(this.size % 2 ** 32, 4);
        done(null, Buffer.concat([FINAL_BLOCK, trailer]));
      })
      .catch(done);
  }

  private async drainFullBlocks(): Promise<void> {
    while (this.buffered >= BLOCK_SIZE) {
      this.startBlock(this.takeBlock(BLOCK_SIZE));
      await this.emitCompressed(IN_FLIGHT - 1);
    }
  }

  private takeBlock(length: number): Buffer {
    const whole = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces);
    const block = whole.subarray(0, length);
    this.pieces.length = 0;
    if (whole.length > length) this.pieces.push(whole.subarray(length));
    this.buffered -= length;
    return block;
  }

  private startBlock(block: Buffer): void {
    this.crc = crc32(block, this.crc);
    this.size += block.length;
    const compressed = compressBlock(block, this.level, this.dictionary);
    compressed.catch(() => {}); // awaited in order by emitCompressed; not an unhandled rejection meanwhile
    this.compressing.push(compressed);
    this.dictionary = block.subarray(Math.max(0, block.length - WINDOW_SIZE));
  }

  /** Pushes finished blocks, in order, until at most `keep` are still being compressed. */
  private async emitCompressed(keep: number): Promise<void> {
    while (this.compressing.length > keep) {
      for (const piece of await this.compressing.shift()!) this.push(piece);
    }
  }
}

function compressBlock(block: Buffer, level: number, dictionary: Buffer | undefined): Promise<Buffer[]> {
  if (looksRandom(block)) return Promise.resolve(storedBlocks(block));
  // A sync flush ends the block's output on a byte boundary with no final bit: blocks concatenate.
  const options: ZlibOptions = { level, finishFlush: constants.Z_SYNC_FLUSH, chunkSize: 256 * 1024 };
  return deflateRawAsync(block, dictionary ? { ...options, dictionary } : options).then((deflated) => [deflated]);
}

/** The block as deflate stored blocks: a 5-byte header (not final, stored, length, its complement) per ≤ 64 KiB. */
function storedBlocks(block: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < block.length; offset += MAX_STORED) {
    const length = Math.min(MAX_STORED, block.length - offset);
    const header = Buffer.alloc(5);
    header.writeUInt16LE(length, 1);
    header.writeUInt16LE(~length & 0xffff, 3);
    out.push(header, block.subarray(offset, offset + length));
  }
  return out;
}

/** Whether the byte entropy of evenly spaced samples of the block says deflate would not shrink it. */
export function looksRandom(block: Buffer): boolean {
  if (block.length < SAMPLE_WINDOWS * SAMPLE_WINDOW_SIZE) return false;
  const counts = new Uint32Array(256);
  const stride = Math.floor(block.length / SAMPLE_WINDOWS);
  for (let window = 0; window < SAMPLE_WINDOWS; window++) {
    const start = window * stride;
    for (let i = start; i < start + SAMPLE_WINDOW_SIZE; i++) counts[block[i]]++;
  }
  const total = SAMPLE_WINDOWS * SAMPLE_WINDOW_SIZE;
  let bits = 0;
  for (const count of counts) {
    if (count) bits -= (count / total) * Math.log2(count / total);
  }
  return bits > RANDOM_BITS_PER_BYTE;
}
