/** `airlift sync`: parse, call the library, render. */
import type { Argv } from 'yargs';
import { formatBytes, formatDuration } from '../progress/format.js';
import { createTransferRenderer } from '../progress/transfer-renderer.js';
import { sync, type SyncResult } from '../sync/sync.js';
import { ExitCode, exitCodesEpilog } from './errors.js';
import { imagesFrom } from './input.js';
import {
  concurrencyOption,
  connectionSettingsOf,
  outputOptions,
  type OutputArgs,
  type PrefixedRegistryFlags,
  registryFlagValues,
  registryOptions,
} from './options.js';
import type { Platform } from '../oci/platform.js';
import { platformList } from './platforms.js';

interface SyncArgs extends OutputArgs, PrefixedRegistryFlags<'src-'>, PrefixedRegistryFlags<'dest-'> {
  from: string;
  to: string;
  refs?: string[];
  'image-list'?: string;
  platform?: Platform[];
  concurrency: number;
}

export const syncCommand = {
  command: 'sync [refs..]',
  describe: 'Copy images from one registry to another, all platforms or a subset, one verified index per tag',
  builder: (y: Argv) =>
    outputOptions(registryOptions(registryOptions(y, 'src-', 'Source registry:'), 'dest-', 'Destination registry:'))
      .positional('refs', { type: 'string', array: true, describe: 'images to copy (rancher/mirrored-pause:3.6, …)' })
      .option('from', { type: 'string', demandOption: true, describe: 'source registry: HOST[:PORT][/NAMESPACE]' })
      .option('to', { type: 'string', demandOption: true, describe: 'destination registry: HOST[:PORT][/NAMESPACE]' })
      .option('image-list', { type: 'string', describe: 'file with the images to copy (one ref per line, # comments)' })
      .option('platform', {
        type: 'string',
        coerce: platformList('--platform'),
        describe: 'copy only these platforms (repeat or comma-separate: linux/amd64,linux/arm64); default all',
      })
      .option('concurrency', concurrencyOption('images and blob transfers in parallel'))
      .example('$0 sync --from docker.io --to registry.local:5000 --image-list k3s-images.txt', 'mirror every platform')
      .example(
        '$0 sync --from mirror:5000 --to 127.0.0.1:5000/k3s --dest-plain-http --platform linux/amd64 --platform linux/arm64 rancher/mirrored-pause:3.6',
        'two platforms, under a namespace',
      )
      .epilog(exitCodesEpilog),
  handler: async (args: SyncArgs): Promise<void> => {
    process.exitCode = await runSync(args);
  },
};

async function runSync(args: SyncArgs): Promise<number> {
  const images = await imagesFrom(args['image-list'], args.refs);
  const [source, destination] = await connectionSettingsOf([
    { flags: registryFlagValues(args, 'src-'), prefix: 'src-' },
    { flags: registryFlagValues(args, 'dest-'), prefix: 'dest-' },
  ]);
  const renderer = await createTransferRenderer({ quiet: args.quiet });
  let result: SyncResult | undefined;
  try {
    result = await sync({
      from: args.from,
      to: args.to,
      source,
      destination,
      images,
      platforms: args.platform ?? [],
      concurrency: args.concurrency,
      onEvent: (event) => renderer.onEvent(event),
    });
  } finally {
    renderer.stop(result !== undefined);
  }
  process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : summary(result));
  return result.failures.length ? ExitCode.failed : ExitCode.ok;
}

function summary(result: SyncResult): string {
  const lines = result.images.map((image) => {
    // Full digests: a release engineer pins them.
    const digests = image.digest === image.sourceDigest ? image.digest : `${image.digest} (subset of ${image.sourceDigest})`;
    return `${image.target}  ${digests}  ${image.platforms.map((p) => p.platform).join(', ')}`;
  });
  for (const failure of result.failures) lines.push(`FAILED ${failure.target}: ${failure.message}`);
  lines.push(
    `${result.images.length} image(s) synced and verified, ${result.failures.length} failed; ${formatBytes(result.bytesCopied)} copied in ${formatDuration(result.durationMs)}`,
  );
  return `${lines.join('\n')}\n`;
}
