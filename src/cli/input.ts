/** Reading the CLI's auxiliary inputs: image lists and secrets on stdin. */
import { readFile } from 'node:fs/promises';
import { parseReference, type Reference } from '../oci/reference.js';
import { UsageError } from './errors.js';

/** k3s-images.txt style: one reference per line; blank lines and `#` comments ignored. */
export async function readImageList(file: string): Promise<Reference[]> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new UsageError(`cannot read image list ${file}: ${err.message}`);
  });
  return text.split('\n').flatMap((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return [];
    try {
      return [parseReference(line)];
    } catch (err) {
      throw new UsageError(`${file}:${i + 1}: ${(err as Error).message}`);
    }
  });
}

/** All of standard input but a final newline (a password from `--password-stdin`). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** yargs drops a lone `-`; it travels under this name until the command turns it back. */
const stdinPlaceholder = '\u0000stdin';

export const protectStdinArgument = (arg: string): string => (arg === '-' ? stdinPlaceholder : arg);

export const archiveArgument = (arg: string): string => (arg === stdinPlaceholder ? '-' : arg);

/** The images named by --image-list and on the command line, in that order. */
export async function imagesFrom(imageList: string | undefined, refs: string[] | undefined, purpose = ''): Promise<Reference[]> {
  const named = (refs ?? []).map(parseReference);
  const listed = imageList ? await readImageList(imageList) : [];
  if (listed.length + named.length === 0) throw new UsageError(`name the images${purpose && ` to ${purpose}`}: REF… or --image-list FILE`);
  return [...listed, ...named];
}
