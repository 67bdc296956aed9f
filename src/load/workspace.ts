/**
 * A private temp dir for one run (spooled layers, standard input), removed on every exit
 * path: normal return, error, and process exit (the CLI turns SIGINT/SIGTERM into exit).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withWorkDir<T>(task: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'airlift-'));
  const removeNow = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeNow);
  try {
    return await task(dir);
  } finally {
    process.off('exit', removeNow);
    await rm(dir, { recursive: true, force: true });
  }
}
