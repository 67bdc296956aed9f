/**
 * Process helpers for integration tests: the airlift CLI and skopeo, plus the generic ones
 * (`run`, `runOrThrow`, `startDaemon`…) the scripts share, re-exported.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, runOrThrow, type RunOptions, type RunResult } from '../../scripts/lib/process.js';

export { has, run, runOrThrow, startDaemon, tempDir, type Daemon, type RunOptions, type RunResult } from '../../scripts/lib/process.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const airliftCli = join(repoRoot, 'dist', 'src', 'cli', 'airlift.cjs');

/** Runs the built CLI (`npm run build` first) with `node`, like `run`. */
export async function runAirlift(args: string[], opts?: RunOptions): Promise<RunResult> {
  if (!existsSync(airliftCli)) throw new Error(`${airliftCli} not found; run "npm run build" first`);
  return run(process.execPath, [airliftCli, ...args], opts);
}

/** Runs skopeo without consulting a signature policy; returns stdout, throws with stderr on failure. */
export function skopeo(args: string[]): Promise<string> {
  return runOrThrow('skopeo', ['--insecure-policy', ...args]);
}
