/** `airlift verify`: parse, call the library, print a table or JSON. */
import type { Argv } from 'yargs';
import { verify, type VerifyResult } from '../load/verify-tags.js';
import { shortDigest } from '../oci/digest.js';
import type { Platform } from '../oci/platform.js';
import { ExitCode, exitCodesEpilog } from './errors.js';
import { imagesFrom } from './input.js';
import { platformList } from './platforms.js';
import { connectionOptions, type ConnectionArgs, connectionSettings, outputOptions, type OutputArgs } from './options.js';

interface VerifyArgs extends ConnectionArgs, OutputArgs {
  refs?: string[];
  'image-list'?: string;
  platforms?: Platform[];
}

export const verifyCommand = {
  command: 'verify [refs..]',
  describe: 'Check that tags in a registry are complete, consistent multi-platform indexes',
  builder: (y: Argv) =>
    outputOptions(connectionOptions(y))
      .positional('refs', { type: 'string', array: true, describe: 'images as loaded, e.g. rancher/mirrored-pause:3.6' })
      .option('image-list', { type: 'string', describe: 'verify the images listed in this file (one ref per line, # comments)' })
      .option('platforms', {
        type: 'string',
        coerce: platformList('--platforms'),
        describe: 'comma-separated platforms every index must hold exactly, e.g. linux/amd64,linux/arm64,linux/arm/v7',
      })
      .example(
        '$0 verify --registry registry.local:5000 --image-list k3s-images.txt --platforms linux/amd64,linux/arm64,linux/arm/v7',
        'every k3s image is there for the three platforms',
      )
      .example('$0 verify --registry 127.0.0.1:5000 --plain-http --json rancher/mirrored-pause:3.6', 'one image, machine-readable')
      .epilog(exitCodesEpilog),
  handler: async (args: VerifyArgs): Promise<void> => {
    process.exitCode = await runVerify(args);
  },
};

async function runVerify(args: VerifyArgs): Promise<number> {
  const images = await imagesFrom(args['image-list'], args.refs, 'verify');
  const result = await verify({ ...(await connectionSettings(args)), registry: args.registry, images, platforms: args.platforms });
  process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : table(result, args.quiet));
  return result.ok ? ExitCode.ok : ExitCode.failed;
}

/** One row per tag, its problems indented below; with --quiet only the tags with problems. */
function table(result: VerifyResult, quiet = false): string {
  const rows = result.images
    .filter((image) => !quiet || image.problems.length)
    .map(
      (image) =>
        [
          image.target,
          image.problems.length ? 'FAILED' : 'ok',
          image.indexDigest ? shortDigest(image.indexDigest) : '-',
          image.platforms.map((p) => p.platform).join(', ') || '-',
          image.problems,
        ] as const,
    );
  const header = ['TAG', 'STATUS', 'DIGEST', 'PLATFORMS'] as const;
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  const lines = [line(header)];
  for (const row of rows) lines.push(line(row.slice(0, 4) as string[]), ...row[4].map((problem) => `  - ${problem}`));
  const failed = result.images.filter((image) => image.problems.length).length;
  lines.push(`${result.images.length - failed} of ${result.images.length} tag(s) verified, ${failed} with problems`);
  return `${lines.join('\n')}\n`;
}
