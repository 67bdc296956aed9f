/** `SHA256SUMS` beside the bundles, in `sha256sum -c` format; lines for files of earlier runs are kept. */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { replaceFile } from '../workspace.js';

const checksumFileName = 'SHA256SUMS';

export async function updateChecksums(dir: string, files: Array<{ file: string; sha256: string }>): Promise<string> {
  const path = join(dir, checksumFileName);
  const sums = new Map<string, string>();
  const existing = await readFile(path, 'utf8').catch(() => '');
  for (const line of existing.split('\n')) {
    const match = /^([a-f0-9]{64}) [ *](.+)$/.exec(line);
    if (match) sums.set(match[2]!, match[1]!);
  }
  for (const { file, sha256 } of files) sums.set(basename(file), sha256);
  const text = [...sums.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, sum]) => `${sum}  ${name}\n`)
    .join('');
  await replaceFile(path, text);
  return path;
}
