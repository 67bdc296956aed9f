/** Reading whole (small) tar archives in tests, bodies included. */
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
