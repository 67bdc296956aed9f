/** Worker thread body for bundles.ts: writes one bundle, posts its `Bundle` back. */
import { parentPort, workerData } from 'node:worker_threads';
import { type BundleJob, writeGzippedBundle } from './bundles.js';

parentPort!.postMessage(await writeGzippedBundle(workerData as BundleJob));
