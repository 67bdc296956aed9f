/** Files written whole or not at all: a reader never sees half a cache file or SHA256SUMS, and no temp file is left behind. */
import { expect, test } from '@jest/globals';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFile } from '../src/workspace.js';
import { tempDir } from './helpers/tools.js';

test('replaceFile replaces the file whole and leaves nothing beside it', async () => {
  const dir = await tempDir('airlift-replace-');
  const file = join(dir, 'SHA256SUMS');
  await writeFile(file, 'old\n');
  await replaceFile(file, 'new\n');
  expect(await readFile(file, 'utf8')).toBe('new\n');
  expect(await readdir(dir)).toEqual(['SHA256SUMS']);
});

test('replaceFile that cannot rename over the file removes its temp file and says why', async () => {
  const dir = await tempDir('airlift-replace-');
  const blocked = join(dir, 'cache.json');
  await mkdir(join(blocked, 'not-empty'), { recursive: true });
  await expect(replaceFile(blocked, '{}')).rejects.toThrow(/cache\.json/);
  expect(await readdir(dir)).toEqual(['cache.json']);
});
