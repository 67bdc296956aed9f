/** `airlift load`: parse, call the library, render. */
import type { Argv } from 'yargs';
import { type LayerCompression, levelRanges } from '../load/compress.js';
import { load, type LoadResult } from '../load/load.js';
import { PlanError } from '../load/plan.js';
import { declaredArchs, type PlatformSource } from '../load/platform-check.js';
import { createRenderer } from '../progress/renderer.js';
import { formatBytes, formatDuration } from '../progress/format.js';
import { shortDigest } from '../oci/digest.js';
import { ExitCode, UsageError } from './errors.js';
import { archiveArgument, readImageList } from './input.js';
import { connectionOptions, type ConnectionArgs, connectionSettings, outputOptions, type OutputArgs } from './options.js';

interface LoadArgs extends ConnectionArgs, OutputArgs {
  archives: string[];
  'image-list'?: string;
  arch?: string[];
  'platform-from'?: PlatformSource;
  replace?: boolean;
  'fail-fast'?: boolean;
  concurrency: number;
  compression: LayerCompression;
  'compression-level'?: number;
  format?: 'oci' | 'docker';
}

export const loadCommand = {
  command: 'load <archives..>',
  describe: 'Load image bundles into a registry as one verified multi-arch tag per image',
  builder: (y: Argv) =>
    outputOptions(connectionOptions(y))
      .positional('archives', { type: 'string', array: true, demandOption: true, describe: 'bundle files (.tar, .tar.gz), in any order' })
      .option('image-list', { type: 'string', describe: 'load only the images listed in this file (one ref per line, # comments)' })
      .option('arch', {
        type: 'string',
        // Repeatable, but not `array`: that would swallow the archives after it.
        coerce: (value: string | string[]) => [value].flat(),
        describe: 'ARCHIVE=ARCH: the architecture of an archive (amd64, arm64, arm, arm/v7…) when its file name does not say',
      })
      .option('platform-from', {
        choices: ['archive', 'config'] as const,
        describe: 'when an archive and an image config disagree on the platform, trust this one (default: refuse the image)',
      })
      .option('replace', { type: 'boolean', describe: 'overwrite existing tags instead of merging with the platforms they hold' })
      .option('fail-fast', { type: 'boolean', describe: 'stop at the first failure instead of loading the other images' })
      .option('concurrency', { type: 'number', default: 4, describe: 'parallel uploads and registry requests' })
      .option('compression', {
        choices: ['gzip', 'zstd', 'none'] as const,
        default: 'gzip' as const,
        describe: 'how layers stored uncompressed in the bundles are compressed (original compressed blobs are pushed as they are)',
      })
      .option('format', {
        choices: ['oci', 'docker'] as const,
        describe:
          'OCI manifests + OCI index, or Docker schema2 manifests + manifest list (default: the family the tag already holds, else oci)',
      })
      .option('compression-level', { type: 'number', describe: 'gzip 1-9 (default 1), zstd 1-19 (default 3)' })
      .example(
        '$0 load --registry registry.local:5000 k3s-airgap-images-*.tar.gz',
        'amd64 + arm64 + arm bundles → one multi-arch tag per image',
      )
      .example('$0 load --registry 127.0.0.1:5000 --plain-http --image-list k3s-images.txt *.tar.gz', 'only the listed images, over HTTP')
      .example(
        'cat pw.txt | $0 load --registry reg.site:5000 --username ci --password-stdin --ca-file site-ca.pem *.tar.gz',
        'with a password and the site CA',
      )
      .example(
        '$0 load --registry reg.example.com/mirror --json bundle.tar.gz > result.json',
        'under a namespace, machine-readable result',
      ),
  handler: async (args: LoadArgs): Promise<void> => {
    process.exitCode = await runLoad(args);
  },
};

async function runLoad(args: LoadArgs): Promise<number> {
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1) throw new UsageError('--concurrency must be a whole number ≥ 1');
  const level = args['compression-level'];
  const [lowest, highest] = levelRanges[args.compression];
  if (level !== undefined && args.compression === 'none') throw new UsageError('--compression-level does not apply to --compression none');
  if (level !== undefined && (!Number.isInteger(level) || level < lowest || level > highest)) {
    throw new UsageError(`--compression-level for ${args.compression} must be ${lowest}-${highest}`);
  }
  const archives = args.archives.map(archiveArgument);
  const arch = archOverrides(archives, args.arch ?? []);
  const renderer = createRenderer({ quiet: args.quiet });
  let result: LoadResult | undefined;
  try {
    result = await load({
      ...(await connectionSettings(args)),
      archives,
      registry: args.registry,
      format: args.format,
      arch,
      platformFrom: args['platform-from'],
      replace: args.replace,
      failFast: args['fail-fast'],
      imageList: args['image-list'] ? await readImageList(args['image-list']) : undefined,
      concurrency: args.concurrency,
      compression: { algorithm: args.compression, level: args['compression-level'] },
      onEvent: (event) => renderer.onEvent(event),
    });
  } finally {
    renderer.stop(result !== undefined);
  }
  if (args.json) {
    const { images, bytesUploaded, durationMs, failures, warnings } = result;
    process.stdout.write(`${JSON.stringify({ images, bytesUploaded, durationMs, failures, warnings }, null, 2)}\n`);
  } else {
    process.stdout.write(summary(result));
  }
  return result.failures.length ? ExitCode.failed : ExitCode.ok;
}

/** `--arch ARCHIVE=ARCH` flags as a map, checked against the archives now: a typo is a usage error. */
function archOverrides(archives: string[], flags: string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const flag of flags) {
    const split = flag.lastIndexOf('=');
    if (split <= 0) throw new UsageError(`--arch ${flag}: expected ARCHIVE=ARCH, e.g. --arch bundle.tar.gz=arm64`);
    overrides[flag.slice(0, split)] = flag.slice(split + 1);
  }
  try {
    declaredArchs(archives, overrides);
  } catch (err) {
    if (err instanceof PlanError) throw new UsageError(err.message);
    throw err;
  }
  return overrides;
}

function summary(result: LoadResult): string {
  const lines = result.images.map(
    (image) => `${image.target}  ${shortDigest(image.indexDigest)}  ${image.platforms.map((p) => p.platform).join(', ')}`,
  );
  for (const failure of result.failures) lines.push(`FAILED ${failure.target}: ${failure.message}`);
  lines.push(
    `${result.images.length} tag(s) loaded and verified, ${result.failures.length} failed; ${formatBytes(result.bytesUploaded)} uploaded in ${formatDuration(result.durationMs)}`,
  );
  return `${lines.join('\n')}\n`;
}
