/**
 * Temp files of one run — a private work dir (spooled layers, standard input), a bundle or a
 * cache file being written — removed on every exit path: normal return, error, and process
 * exit (the CLI turns SIGINT/SIGTERM into exit).
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Runs `task` with a new directory `PARENT/PREFIXxxxxxx`, removed afterwards however the run ends. */
export async function withWorkDir<T>(task: (dir: string) => Promise<T>, parent = tmpdir(), prefix = 'airlift-'): Promise<T> {
  const dir = await mkdtemp(join(parent, prefix));
  const release = removeOnExit(dir);
  try {
    return await task(dir);
  } finally {
    release();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes `path` if the process exits before the returned function is called. */
export function removeOnExit(path: string): () => void {
  const removeNow = () => rmSync(path, { recursive: true, force: true });
  process.once('exit', removeNow);
  return () => process.off('exit', removeNow);
}

/** Writes `path` whole or not at all (its directory made if need be): a temp file beside it, renamed over it, removed if the write stops. */
export async function replaceFile(path: string, data: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  const release = removeOnExit(temp);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  } finally {
    release();
  }
}
