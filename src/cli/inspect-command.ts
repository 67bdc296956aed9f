/** `airlift inspect`: print what bundles hold, as a table or JSON. */
import type { Argv } from 'yargs';
import { type InspectedArchive, inspectArchives } from '../inspect/inspect.js';
import { shortDigest } from '../oci/digest.js';
import { formatBytes } from '../progress/format.js';
import { archiveArgument } from './input.js';

interface InspectArgs {
  archives: string[];
  json?: boolean;
  layers?: boolean;
}

export const inspectCommand = {
  command: 'inspect <archives..>',
  describe: 'Show what bundles hold: format, compression, images, platforms, layers',
  builder: (y: Argv) =>
    y
      .positional('archives', { type: 'string', array: true, demandOption: true, describe: 'bundle files, or - for standard input' })
      .option('json', { type: 'boolean', describe: 'print one JSON document on stdout' })
      .option('layers', { type: 'boolean', describe: 'list every layer of every image' })
      .example('$0 inspect k3s-airgap-images-arm64.tar.zst', 'images and platforms of a bundle')
      .example('$0 inspect --json *.tar.gz | jq ".[].images[].refs"', 'machine-readable'),
  handler: async (args: InspectArgs): Promise<void> => {
    const archives = await inspectArchives(args.archives.map(archiveArgument));
    process.stdout.write(args.json ? `${JSON.stringify(archives, null, 2)}\n` : archives.map((a) => describe(a, args.layers)).join('\n'));
  },
};

function describe(archive: InspectedArchive, withLayers = false): string {
  const lines = [
    `${archive.path}: ${archive.format}, ${archive.compression}, ${formatBytes(archive.fileSize)}`,
    ...archive.warnings.map((w) => `  warning: ${w}`),
  ];
  for (const image of archive.images) {
    const manifest = image.manifestDigest ? `  manifest ${shortDigest(image.manifestDigest)}` : '';
    lines.push(
      `  ${image.refs.join(', ') || '(untagged)'}  ${image.platform}  ${image.layers.length} layers, ${formatBytes(image.size)}${manifest}`,
    );
    if (withLayers) for (const layer of image.layers) lines.push(`    ${layer.digest}  ${layer.storedAs}  ${formatBytes(layer.size)}`);
  }
  const { images, layers, layerBytes } = archive.totals;
  lines.push(`  total: ${images} image(s), ${layers} distinct layers, ${formatBytes(layerBytes)}`);
  return `${lines.join('\n')}\n`;
}
