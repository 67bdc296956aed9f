/** `airlift load`: parse, call the library, render. */
import { writeFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { type LayerCompression, levelRanges } from '../load/compress.js';
import { dryRun, type LoadPlan } from '../load/dry-run.js';
import { load, type LoadOptions, type LoadResult } from '../load/load.js';
import { shortDigest } from '../oci/digest.js';
import { parsePlatform, type Platform } from '../oci/platform.js';
import { parseReference } from '../oci/reference.js';
import { formatBytes, formatDuration } from '../progress/format.js';
import { createRenderer } from '../progress/renderer.js';
import { ExitCode, exitCodesEpilog, UsageError } from './errors.js';
import { archiveArgument, readImageList, readPassword } from './input.js';
import { registriesYaml } from './k3s-registries-command.js';
import { commaList, connectionOptions, type ConnectionArgs, outputOptions, type OutputArgs } from './options.js';

interface LoadArgs extends ConnectionArgs, OutputArgs {
  archives: string[];
  'image-list'?: string;
  platform?: Platform[];
  'arch-tags'?: boolean;
  'dry-run'?: boolean;
  'emit-registries-yaml'?: string;
  concurrency: number;
  compression: LayerCompression;
  'compression-level'?: number;
}

export const loadCommand = {
  command: 'load <archives..>',
  describe: 'Load image bundles into a registry as one verified multi-arch tag per image',
  builder: (y: Argv) =>
    outputOptions(connectionOptions(y))
      .positional('archives', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'bundle files (.tar, .tar.gz, .tar.zst), in any order, or - for standard input',
      })
      .option('image-list', { type: 'string', describe: 'load only the images listed in this file (one ref per line, # comments)' })
      .option('platform', {
        type: 'string',
        describe: 'load only these platforms, e.g. linux/arm64,linux/arm/v7 (repeatable or comma-separated)',
        coerce: platformList,
      })
      .option('arch-tags', { type: 'boolean', describe: 'also push <tag>-<arch> per-platform tags (3.1-amd64, 3.1-arm64, 3.1-arm)' })
      .option('dry-run', { type: 'boolean', describe: 'print the plan and what the registry already has; write nothing' })
      .option('emit-registries-yaml', {
        type: 'string',
        describe: 'after a successful load, write a k3s / RKE2 registries.yaml for the registry to this file',
      })
      .option('concurrency', { type: 'number', default: 4, describe: 'parallel uploads and registry requests' })
      .option('compression', {
        choices: ['gzip', 'zstd', 'none'] as const,
        default: 'gzip' as const,
        describe: 'how layers stored uncompressed in the bundles are compressed (original compressed blobs are pushed as they are)',
      })
      .option('compression-level', { type: 'number', describe: 'gzip 1-9 (default 1), zstd 1-19 (default 3)' })
      .example(
        '$0 load --registry registry.local:5000 k3s-airgap-images-*.tar.gz',
        'amd64 + arm64 + arm bundles → one multi-arch tag per image',
      )
      .example('$0 load --registry 127.0.0.1:5000 --plain-http --image-list k3s-images.txt *.tar.gz', 'only the listed images, over HTTP')
      .example('$0 load --registry reg:5000 --dry-run k3s-airgap-images-*.tar.zst', 'what would be uploaded, without writing')
      .example('$0 load --registry reg:5000 --platform linux/arm64,linux/arm/v7 *.tar.gz', 'only the arm platforms')
      .example('$0 load --registry reg:5000 --arch-tags *.tar.gz', 'also pause:3.6-amd64, pause:3.6-arm64, pause:3.6-arm')
      .example(
        '$0 load --registry reg:5000 --ca-file ca.pem --emit-registries-yaml registries.yaml *.tar.gz',
        'then copy registries.yaml to /etc/rancher/k3s/ on each node',
      )
      .example('$0 load --registry reg.example.com/mirror --json bundle.tar.gz > result.json', 'under a namespace, machine-readable result')
      .epilog(exitCodesEpilog),
  handler: async (args: LoadArgs): Promise<void> => {
    process.exitCode = await runLoad(args);
  },
};

function platformList(value: string | string[]): Platform[] {
  const platforms = commaList(value).map((text) => {
    try {
      return parsePlatform(text);
    } catch (err) {
      throw new UsageError(`--platform: ${(err as Error).message}`);
    }
  });
  if (!platforms.length) throw new UsageError('--platform needs a platform, e.g. --platform linux/arm64,linux/arm/v7');
  return platforms;
}

async function runLoad(args: LoadArgs): Promise<number> {
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1) throw new UsageError('--concurrency must be a whole number ≥ 1');
  const level = args['compression-level'];
  const [lowest, highest] = levelRanges[args.compression];
  if (level !== undefined && args.compression === 'none') throw new UsageError('--compression-level does not apply to --compression none');
  if (level !== undefined && (!Number.isInteger(level) || level < lowest || level > highest)) {
    throw new UsageError(`--compression-level for ${args.compression} must be ${lowest}-${highest}`);
  }
  const archives = args.archives.map(archiveArgument);
  if (args['password-stdin'] && archives.includes('-')) {
    throw new UsageError('--password-stdin and the archive "-" both want standard input; give the archive as a file');
  }
  // Read stdin before the spinner starts: ora discards terminal input while it spins.
  const password = await readPassword(args);
  const renderer = createRenderer({ quiet: args.quiet });
  const options: LoadOptions = {
    archives,
    registry: args.registry,
    plainHttp: args['plain-http'],
    insecure: args.insecure,
    caFile: args['ca-file'],
    credentials: args.username ? { username: args.username, password: password ?? '' } : undefined,
    imageList: args['image-list'] ? await readImageList(args['image-list']) : undefined,
    platforms: args.platform,
    archTags: args['arch-tags'],
    concurrency: args.concurrency,
    compression: { algorithm: args.compression, level },
    onEvent: (event) => renderer.onEvent(event),
  };
  if (args['dry-run']) {
    let plan: LoadPlan | undefined;
    try {
      plan = await dryRun(options);
    } finally {
      renderer.stop(plan !== undefined);
    }
    process.stdout.write(args.json ? `${JSON.stringify(plan, null, 2)}\n` : planSummary(plan, args['emit-registries-yaml']));
    return ExitCode.ok;
  }
  let result: LoadResult | undefined;
  try {
    result = await load(options);
  } finally {
    renderer.stop(result !== undefined);
  }
  const yamlFile = args['emit-registries-yaml'];
  const wroteYaml = yamlFile !== undefined && result.failures.length === 0;
  if (wroteYaml) await writeFile(yamlFile, registriesYaml(args, password, sourceRegistries(result)));
  if (args.json) {
    const { images, bytesUploaded, durationMs, failures, warnings } = result;
    const json = { images, bytesUploaded, durationMs, failures, warnings, ...(wroteYaml ? { registriesYaml: yamlFile } : {}) };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const yamlNote =
      yamlFile === undefined
        ? []
        : [wroteYaml ? `wrote the k3s registries.yaml to ${yamlFile}` : `did not write ${yamlFile}: some images failed`];
    process.stdout.write(loadSummary(result, yamlNote));
  }
  return result.failures.length ? ExitCode.failed : ExitCode.ok;
}

/** Every registry the loaded images came from: nodes pull them by those names. */
function sourceRegistries(result: LoadResult): string[] {
  return [...new Set(result.images.flatMap((image) => image.sources.map((source) => parseReference(source.ref).registry)))];
}

function loadSummary(result: LoadResult, notes: string[]): string {
  const lines = result.images.flatMap((image) => [
    `${image.target}  ${shortDigest(image.indexDigest)}  ${image.platforms.map((p) => p.platform).join(', ')}`,
    ...(image.archTags ? [`  + ${tagsOf(image.archTags)}`] : []),
  ]);
  for (const failure of result.failures) lines.push(`FAILED ${failure.target}: ${failure.message}`);
  lines.push(
    `${result.images.length} tag(s) loaded and verified, ${result.failures.length} failed; ${formatBytes(result.bytesUploaded)} uploaded in ${formatDuration(result.durationMs)}`,
  );
  return `${[...lines, ...notes].join('\n')}\n`;
}

function planSummary(plan: LoadPlan, yamlFile: string | undefined): string {
  const lines = [`plan for ${plan.registry} (dry run: nothing written)`];
  for (const image of plan.images) {
    const current = image.current ? `now ${shortDigest(image.current.digest)} [${image.current.platforms.join(', ')}]` : 'new tag';
    lines.push(`  ${image.target}  ${image.platforms.map((p) => p.platform).join(', ')}  (${current})`);
    if (image.archTags) lines.push(`    + ${tagsOf(image.archTags)}`);
  }
  const { totals, layers } = plan;
  const count = (status: string) => layers.filter((l) => l.status === status).length;
  lines.push(
    `${totals.tags} tag(s), ${totals.images} platform image(s), ${totals.layers} distinct layer(s): ${count('present')} already present, ${count('mount')} to mount, ${count('upload')} to upload`,
    `bytes: ${formatBytes(totals.bytesToUpload)} to upload, ${formatBytes(totals.bytesPresent)} already present`,
  );
  if (totals.layersOfUnknownSize) {
    lines.push(
      `  + ${totals.layersOfUnknownSize} layer(s) never loaded from this machine: to upload, ${formatBytes(totals.bytesOfUnknownSize)} uncompressed (size known after compression; the registry may have some)`,
    );
  }
  if (yamlFile) lines.push(`would write the k3s registries.yaml to ${yamlFile}`);
  return `${lines.join('\n')}\n`;
}

/** `reg/x:3.6-amd64, reg/x:3.6-arm` → `3.6-amd64, 3.6-arm` */
const tagsOf = (refs: string[]): string => refs.map((ref) => ref.slice(ref.lastIndexOf(':') + 1)).join(', ');
