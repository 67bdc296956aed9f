/** What a sync reports while it runs; renderers turn these into progress output. */
import type { LoadEvent } from '../load/events.js';
import type { SyncedImage } from './sync.js';

export type SyncEvent =
  | Extract<LoadEvent, { type: 'blob' }>
  /** An image finished: `done` of `total`. */
  | { type: 'synced'; done: number; total: number; image: SyncedImage }
  | { type: 'failure'; done: number; total: number; target: string; message: string }
  | { type: 'warning'; message: string };
