/** `airlift save`: parse, call the library, render. */
import type { Argv } from 'yargs';
import { formatBytes, formatDuration } from '../progress/format.js';
import { createTransferRenderer } from '../progress/transfer-renderer.js';
import type { BundleCompression } from '../save/compression.js';
import { defaultBundlePrefix, save, type SaveResult } from '../save/save.js';
import { exitCodesEpilog } from './errors.js';
import { imagesFrom } from './input.js';
import { concurrencyOption, connectionSettings, outputOptions, type OutputArgs, type RegistryFlags, registryOptions } from './options.js';
import type { Platform } from '../oci/platform.js';
import { platformList } from './platforms.js';

interface SaveArgs extends OutputArgs, RegistryFlags {
  from: string;
  refs?: string[];
  'image-list'?: string;
  platform: Platform[];
  out: string;
  name: string;
  compression: BundleCompression;
  legacy?: boolean;
  'multi-arch'?: boolean;
  concurrency: number;
}

export const saveCommand = {
  command: 'save [refs..]',
  describe: 'Build offline kits: image bundles per architecture (k3s airgap style) from a registry, with SHA256SUMS',
  builder: (y: Argv) =>
    outputOptions(registryOptions(y, '', 'Source registry:'))
      .positional('refs', { type: 'string', array: true, describe: 'images to save (rancher/mirrored-pause:3.6, …)' })
      .option('from', { type: 'string', demandOption: true, describe: 'registry to read the images from: HOST[:PORT][/NAMESPACE]' })
      .option('image-list', { type: 'string', describe: 'file with the images to save (one ref per line, # comments)' })
      .option('platform', {
        type: 'string',
        coerce: platformList('--platform'),
        demandOption: true,
        describe: 'platforms to save (repeat or comma-separate); one bundle per architecture',
      })
      .option('out', { type: 'string', demandOption: true, describe: 'directory for the bundles and SHA256SUMS' })
      .option('name', { type: 'string', default: defaultBundlePrefix, describe: 'bundle name prefix: PREFIX-<arch>.tar.gz' })
      .option('compression', { choices: ['gzip', 'zstd', 'none'] as const, default: 'gzip' as const, describe: 'bundle compression' })
      .option('legacy', { type: 'boolean', describe: 'classic docker save layout with uncompressed layers, for Docker < 25' })
      .option('multi-arch', { type: 'boolean', describe: 'one OCI archive with every platform and the index' })
      .conflicts('legacy', 'multi-arch')
      .option('concurrency', concurrencyOption('parallel registry requests and downloads'))
      .example(
        '$0 save --from registry.local:5000 --image-list k3s-images.txt --platform linux/amd64,linux/arm64,linux/arm/v7 --out kit --name k3s-airgap-images',
        'k3s-airgap-images-{amd64,arm64,arm}.tar.gz + SHA256SUMS',
      )
      .example(
        '$0 save --from 127.0.0.1:5000 --plain-http --platform linux/amd64 --legacy --out kit rancher/mirrored-pause:3.6',
        'for Docker < 25',
      )
      .epilog(exitCodesEpilog),
  handler: async (args: SaveArgs): Promise<void> => {
    process.exitCode = await runSave(args);
  },
};

async function runSave(args: SaveArgs): Promise<number> {
  const images = await imagesFrom(args['image-list'], args.refs);
  const connection = await connectionSettings(args);
  const renderer = await createTransferRenderer({ quiet: args.quiet });
  let result: SaveResult | undefined;
  try {
    result = await save({
      from: args.from,
      connection,
      images,
      platforms: args.platform,
      outDir: args.out,
      name: args.name,
      compression: args.compression,
      legacy: args.legacy,
      multiArch: args['multi-arch'],
      concurrency: args.concurrency,
      onEvent: (event) => renderer.onEvent(event),
    });
  } finally {
    renderer.stop(result !== undefined);
  }
  process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : summary(result));
  return 0;
}

function summary(result: SaveResult): string {
  const lines = result.bundles.map(
    (bundle) =>
      `${bundle.file}  ${formatBytes(bundle.size)}  ${bundle.images.length} images  ${bundle.platforms.join(', ')}  sha256:${bundle.sha256}`,
  );
  lines.push(`checksums in ${result.checksums}; ${formatBytes(result.bytesDownloaded)} downloaded in ${formatDuration(result.durationMs)}`);
  return `${lines.join('\n')}\n`;
}
