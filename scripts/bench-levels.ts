/**
 * `npm run bench:levels`: what each layer compression setting costs and saves, to choose the
 * default by measurement. Compresses every layer of the benchmark's amd64 bundle, one layer
 * at a time, with airlift's compressors (and Node's one-stream gzip -1 for reference), and
 * prints throughput (uncompressed MB per wall second), CPU seconds and the compressed size.
 *
 *   node dist/scripts/bench-levels.js [--scale 4000] [--keep] [--content executables|random]
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CompressStream } from 'zstd-napi';
import { zlibChunkSize } from '../src/archive/open.js';
import { walkTar } from '../src/archive/tar.js';
import { BlockGzip } from '../src/load/block-gzip.js';
import { bundleSet, contentOption, keepDir } from './lib/bench/bundles.js';
import { table } from './lib/bench/report.js';

interface Setting {
  name: string;
  compressor: () => Transform;
}

const SETTINGS: Setting[] = [
  ...[1, 3, 6, 9].map((level) => ({ name: `--compression gzip --compression-level ${level}`, compressor: () => new BlockGzip(level) })),
  ...[1, 3, 9].map((level) => ({
    name: `--compression zstd --compression-level ${level}`,
    compressor: () => new CompressStream({ compressionLevel: level }),
  })),
  { name: "reference: Node's one-stream gzip level 1", compressor: () => createGzip({ level: 1, chunkSize: zlibChunkSize }) },
];

interface Result {
  name: string;
  inBytes: number;
  outBytes: number;
  wallMs: number;
  cpuMs: number;
}

/** Compresses each layer entry of the uncompressed tar in turn, counting bytes out. */
async function measure(tarFile: string, setting: Setting): Promise<Result> {
  let inBytes = 0;
  let outBytes = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await walkTar(createReadStream(tarFile, { highWaterMark: 1024 * 1024 }), async (entry, body: Readable) => {
    if (!entry.name?.endsWith('/layer.tar')) return;
    inBytes += entry.size;
    const count = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        outBytes += chunk.length;
        done();
      },
    });
    await pipeline(body, setting.compressor(), count);
  });
  const cpu = process.cpuUsage(cpuBefore);
  return { name: setting.name, inBytes, outBytes, wallMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function main(): Promise<void> {
  const args = await yargs(hideBin(process.argv))
    .option('scale', { type: 'number', default: 4000, describe: 'bundle size, as for npm run bench' })
    .option('keep', { type: 'boolean', default: false, describe: 'keep/reuse generated bundles in .bench/' })
    .option('content', contentOption)
    .strict()
    .help()
    .parseAsync();
  const workDir = await mkdtemp(join(tmpdir(), 'airlift-levels-'));
  try {
    const set = await bundleSet(args.keep ? keepDir : join(workDir, 'bundles'), args.scale, args.content);
    const bundle = set.bundles.find((b) => b.platform.architecture === 'amd64') ?? set.bundles[0]!;
    const tarFile = join(workDir, 'bundle.tar');
    await pipeline(createReadStream(bundle.file), createGunzip({ chunkSize: zlibChunkSize }), createWriteStream(tarFile));
    const results: Result[] = [];
    for (const setting of SETTINGS) {
      process.stderr.write(`bench-levels: ${setting.name}…\n`);
      results.push(await measure(tarFile, setting));
    }
    const mb = (bytes: number) => bytes / 1e6;
    const rows = results.map((r) => [
      r.name,
      (mb(r.inBytes) / (r.wallMs / 1000)).toFixed(0),
      (r.cpuMs / 1000).toFixed(2),
      mb(r.outBytes).toFixed(0),
      ((100 * r.outBytes) / r.inBytes).toFixed(1),
    ]);
    process.stdout.write(`layers of ${bundle.file}: ${mb(results[0]!.inBytes).toFixed(0)} MB uncompressed\n\n`);
    const lines = table(['setting', 'MB/s', 'CPU s', 'MB out', '% of input'], rows, [false, true, true, true, true]);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-levels: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
