/**
 * The digest of what a spool worker writes, computed on the main thread: the worker copies
 * the bytes into the slots of a small SharedArrayBuffer ring, the main thread hashes each
 * slot and hands it back. A layer's two sha256 — of what is read and of what is written —
 * then run on two cores instead of one after the other, and the ring's few MiB are all the
 * memory it takes (no buffer per chunk for the garbage collector to catch up with).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Digest } from '../oci/digest.js';

const SLOT_SIZE = 1024 * 1024;
const SLOTS = 4;

/** A filled slot, worker to main; its `length` bytes are the next of the blob. */
export interface SlotFilled {
  type: 'hash';
  slot: number;
  length: number;
}

export const newRing = (): SharedArrayBuffer => new SharedArrayBuffer(SLOT_SIZE * SLOTS);

/** Worker side: the ring's free slots, shared by the blobs of one spool pass. */
export class RingSlots {
  private readonly free: number[] = [...Array(SLOTS).keys()];
  private readonly waiting: Array<() => void> = [];

  constructor(readonly ring: SharedArrayBuffer) {}

  async acquire(): Promise<number> {
    while (this.free.length === 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.free.shift()!;
  }

  /** The main thread has hashed the slot. */
  release(slot: number): void {
    this.free.push(slot);
    this.waiting.shift()?.();
  }
}

/** Worker side: passes a blob's bytes through, copying them into the ring's slots and sending each when full. */
export class RingWriter extends Transform {
  bytes = 0;
  private slot: number | undefined;
  private used = 0;

  constructor(
    private readonly slots: RingSlots,
    private readonly send: (filled: SlotFilled) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.copy(chunk).then(() => done(null, chunk), done);
  }

  override _flush(done: TransformCallback): void {
    if (this.used > 0) this.sendSlot();
    done();
  }

  private async copy(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    for (let at = 0; at < chunk.length;) {
      this.slot ??= await this.slots.acquire();
      const n = Math.min(chunk.length - at, SLOT_SIZE - this.used);
      chunk.copy(new Uint8Array(this.slots.ring, this.slot * SLOT_SIZE + this.used, n), 0, at, at + n);
      this.used += n;
      at += n;
      if (this.used === SLOT_SIZE) this.sendSlot();
    }
  }

  private sendSlot(): void {
    this.send({ type: 'hash', slot: this.slot!, length: this.used });
    this.slot = undefined;
    this.used = 0;
  }
}

/** Main side: hashes the slots as they arrive, in order; `digest` ends one blob and starts the next. */
export class RingHasher {
  private hash: Hash = createHash('sha256');

  constructor(private readonly ring: SharedArrayBuffer) {}

  update({ slot, length }: SlotFilled): void {
    this.hash.update(new Uint8Array(this.ring, slot * SLOT_SIZE, length));
  }

  digest(): Digest {
    const digest: Digest = `sha256:${this.hash.digest('hex')}`;
    this.hash = createHash('sha256');
    return digest;
  }
}
