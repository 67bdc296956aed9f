/** `airlift load`: parse, call the library, render. */
import { writeFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { type LayerCompression, levelRanges } from '../load/compress.js';
import { dryRun, type LoadPlan } from '../load/dry-run.js';
import { defaultLoadConcurrency, load, type LoadOptions, type LoadResult } from '../load/load.js';
import { PlanError } from '../load/plan.js';
import { declaredArchs, type PlatformSource } from '../load/platform-check.js';
import { shortDigest } from '../oci/digest.js';
import type { Platform } from '../oci/platform.js';
import { parseReference } from '../oci/reference.js';
import { formatBytes, formatDuration } from '../progress/format.js';
import { createRenderer } from '../progress/renderer.js';
import { ExitCode, exitCodesEpilog, UsageError } from './errors.js';
import { archiveArgument, readImageList } from './input.js';
import { platformList } from './platforms.js';
import { registriesYaml } from './k3s-registries-command.js';
import {
  concurrencyOption,
  connectionOptions,
  type ConnectionArgs,
  connectionSettings,
  outputOptions,
  type OutputArgs,
} from './options.js';

interface LoadArgs extends ConnectionArgs, OutputArgs {
  archives: string[];
  'image-list'?: string;
  arch?: string[];
  'platform-from'?: PlatformSource;
  replace?: boolean;
  'fail-fast'?: boolean;
  platform?: Platform[];
  'arch-tags'?: boolean;
  'dry-run'?: boolean;
  'emit-registries-yaml'?: string;
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
      .positional('archives', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'bundle files (.tar, .tar.gz, .tar.zst), in any order, or - for standard input',
      })
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
      .option('platform', {
        type: 'string',
        describe: 'load only these platforms, e.g. linux/arm64,linux/arm/v7 (repeatable or comma-separated)',
        coerce: platformList('--platform'),
      })
      .option('arch-tags', { type: 'boolean', describe: 'also push <tag>-<arch> per-platform tags (3.1-amd64, 3.1-arm64, 3.1-arm)' })
      .option('dry-run', { type: 'boolean', describe: 'print the plan and what the registry already has; write nothing' })
      .option('emit-registries-yaml', {
        type: 'string',
        describe: 'after a successful load, write a k3s / RKE2 registries.yaml for the registry to this file',
      })
      .option('concurrency', concurrencyOption('parallel uploads and registry requests', defaultLoadConcurrency))
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
      .example('$0 load --registry reg:5000 --dry-run k3s-airgap-images-*.tar.zst', 'what would be uploaded, without writing')
      .example('$0 load --registry reg:5000 --platform linux/arm64,linux/arm/v7 *.tar.gz', 'only the arm platforms')
      .example('$0 load --registry reg:5000 --arch-tags *.tar.gz', 'also pause:3.6-amd64, pause:3.6-arm64, pause:3.6-arm')
      .example(
        'cat pw.txt | $0 load --registry reg.site:5000 --username ci --password-stdin --ca-file site-ca.pem *.tar.gz',
        'with a password and the site CA',
      )
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

async function runLoad(args: LoadArgs): Promise<number> {
  const level = args['compression-level'];
  const [lowest, highest] = levelRanges[args.compression];
  if (level !== undefined && args.compression === 'none') throw new UsageError('--compression-level does not apply to --compression none');
  if (level !== undefined && (!Number.isInteger(level) || level < lowest || level > highest)) {
    throw new UsageError(`--compression-level for ${args.compression} must be ${lowest}-${highest}`);
  }
  const archives = args.archives.map(archiveArgument);
  const arch = archOverrides(archives, args.arch ?? []);
  if (args['password-stdin'] && archives.includes('-')) {
    throw new UsageError('--password-stdin and the archive "-" both want standard input; give the archive as a file');
  }
  // Reads the password from stdin before the spinner starts: ora discards terminal input while it spins.
  const connection = await connectionSettings(args);
  const renderer = await createRenderer({ quiet: args.quiet });
  const options: LoadOptions = {
    ...connection,
    archives,
    registry: args.registry,
    format: args.format,
    arch,
    platformFrom: args['platform-from'],
    replace: args.replace,
    failFast: args['fail-fast'],
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
  if (wroteYaml) await writeFile(yamlFile, registriesYaml(args, connection.credentials?.password, sourceRegistries(result)));
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
