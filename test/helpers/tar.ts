/** Reading and writing whole (small) tar archives in tests, bodies included; what a process reads. */
import { readFile } from 'node:fs/promises';
import tar, { type Header } from 'tar-stream';

export interface TarFile {
  header: Header;
  data: Buffer;
}

export async function readTar(data: Buffer): Promise<TarFile[]> {
  const extract = tar.extract();
  extract.end(data);
  const files: TarFile[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    files.push({ header: entry.header, data: Buffer.concat(chunks) });
  }
  return files;
}

/** A tar archive of these files, in this order. */
export async function packed(files: Array<{ name: string; body: Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const { name, body } of files) pack.entry({ name, size: body.length }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `rchar` of /proc/self/io: bytes this process (every thread) read through read(2) and friends. */
export const bytesReadByThisProcess = (): Promise<number> => ioCounter('rchar');

/** `wchar` of /proc/self/io: bytes this process (every thread) wrote through write(2) and friends. */
export const bytesWrittenByThisProcess = (): Promise<number> => ioCounter('wchar');

async function ioCounter(name: 'rchar' | 'wchar'): Promise<number> {
  const io = await readFile('/proc/self/io', 'utf8');
  return Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)![1]);
}
