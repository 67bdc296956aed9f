/** What a save reports while it runs; renderers turn these into progress output. */
import type { SavedBundle } from './save.js';

export type SaveEvent =
  /** An image was found and read in the source registry: `done` of `total`. */
  | { type: 'resolved'; done: number; total: number; name: string; platforms: string[] }
  /** Blob bytes fetched for the bundles so far, of `total`. */
  | { type: 'read'; bytes: number; total: number }
  | { type: 'bundle'; bundle: SavedBundle }
  | { type: 'warning'; message: string };
