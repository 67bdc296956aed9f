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
import { zlibChunkSize } from '../archive/open.js';

const BLOCK_SIZE = 1024 * 1024;
const WINDOW_SIZE = 32 * 1024;
/**
 * Blocks being compressed at once per stream. Three keep a two-thread pool deflating while the
 * reader inflates and hashes the next block (with two, one archive loaded alone took ~3 % longer).
 */
const IN_FLIGHT = 3;
/** The largest stored block deflate allows. */
const MAX_STORED = 0xffff;
/** A block whose sampled byte entropy is above this cannot shrink by more than ~1 %. */
const RANDOM_BITS_PER_BYTE = 7.9;
const SAMPLE_WINDOWS = 8;
const SAMPLE_WINDOW_SIZE = 8 * 1024;
/**
 * zlib's largest hash table (its default is 8, a 1990s memory budget): on executables, the bulk
 * of real layers, level 1 deflates ~7 % faster for the same size, for 128 KiB more per block.
 */
const MEM_LEVEL = 9;

/** gzip header: deflate, no name, mtime 0, OS "unknown", so the bytes never depend on the host. */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** An empty final stored block ends the deflate stream. */
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

const deflateRawAsync = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

export class BlockGzip extends Transform {
  private readonly pieces: Buffer[] = [];
  private buffered = 0;
  private readonly compressing: Array<Promise<Buffer[]>> = [];
  private previous: Buffer[] = [];
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
    if (this.buffered > 0) this.startBlock(this.buffered);
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
      this.startBlock(BLOCK_SIZE);
      await this.emitCompressed(IN_FLIGHT - 1);
    }
  }

  /** The next `length` bytes, as the pieces they arrived in (the last one cut), without copying. */
  private takeBlock(length: number): Buffer[] {
    const block: Buffer[] = [];
    for (let left = length; left > 0;) {
      const piece = this.pieces.shift()!;
      if (piece.length > left) this.pieces.unshift(piece.subarray(left));
      block.push(piece.subarray(0, left));
      left -= Math.min(left, piece.length);
    }
    this.buffered -= length;
    return block;
  }

  /** Starts compressing the next `length` bytes. */
  private startBlock(length: number): void {
    const block = this.takeBlock(length);
    for (const piece of block) this.crc = crc32(piece, this.crc);
    this.size += length;
    const compressed = looksRandom(block) ? Promise.resolve(storedBlocks(block)) : deflateBlock(block, this.level, this.previous);
    compressed.catch(() => {}); // awaited in order by emitCompressed; not an unhandled rejection meanwhile
    this.compressing.push(compressed);
    this.previous = block;
  }

  /** Pushes finished blocks, in order, until at most `keep` are still being compressed. */
  private async emitCompressed(keep: number): Promise<void> {
    while (this.compressing.length > keep) {
      for (const piece of await this.compressing.shift()!) this.push(piece);
    }
  }
}

/** Deflates the block primed with the last 32 KiB of the previous one. */
function deflateBlock(block: Buffer[], level: number, previous: Buffer[]): Promise<Buffer[]> {
  // A sync flush ends the block's output on a byte boundary with no final bit: blocks concatenate.
  const options: ZlibOptions = { level, memLevel: MEM_LEVEL, finishFlush: constants.Z_SYNC_FLUSH, chunkSize: zlibChunkSize };
  const tail: Buffer[] = [];
  for (let i = previous.length - 1, kept = 0; i >= 0 && kept < WINDOW_SIZE; i--) {
    tail.unshift(previous[i].subarray(Math.max(0, previous[i].length - (WINDOW_SIZE - kept))));
    kept += tail[0].length;
  }
  if (tail.length) options.dictionary = Buffer.concat(tail);
  return deflateRawAsync(Buffer.concat(block), options).then((deflated) => [deflated]);
}

/** The block as deflate stored blocks: a 5-byte header (not final, stored, length, its complement) per ≤ 64 KiB. */
function storedBlocks(block: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const pieces = [...block];
  while (pieces.length) {
    const header = Buffer.alloc(5);
    out.push(header);
    let length = 0;
    while (pieces.length && length < MAX_STORED) {
      const piece = pieces.shift()!;
      const take = Math.min(piece.length, MAX_STORED - length);
      if (take < piece.length) pieces.unshift(piece.subarray(take));
      out.push(piece.subarray(0, take));
      length += take;
    }
    header.writeUInt16LE(length, 1);
    header.writeUInt16LE(~length & 0xffff, 3);
  }
  return out;
}

/** Whether the byte entropy of evenly spaced samples of the block says deflate would not shrink it. */
export function looksRandom(block: Buffer[]): boolean {
  const length = block.reduce((sum, piece) => sum + piece.length, 0);
  if (length < SAMPLE_WINDOWS * SAMPLE_WINDOW_SIZE) return false;
  const counts = new Uint32Array(256);
  const stride = Math.floor(length / SAMPLE_WINDOWS);
  let piece = 0;
  let pieceStart = 0;
  for (let window = 0; window < SAMPLE_WINDOWS; window++) {
    const end = window * stride + SAMPLE_WINDOW_SIZE;
    for (let at = window * stride; at < end;) {
      while (pieceStart + block[piece].length <= at) pieceStart += block[piece++].length;
      const bytes = block[piece];
      const stop = Math.min(bytes.length, end - pieceStart);
      for (let i = at - pieceStart; i < stop; i++) counts[bytes[i]]++;
      at = pieceStart + stop;
    }
  }
  const total = SAMPLE_WINDOWS * SAMPLE_WINDOW_SIZE;
  let bits = 0;
  for (const count of counts) {
    if (count) bits -= (count / total) * Math.log2(count / total);
  }
  return bits > RANDOM_BITS_PER_BYTE;
}
