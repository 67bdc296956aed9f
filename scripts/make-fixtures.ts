/**
 * Writes the k3s-like airgap fixtures: `node dist/scripts/make-fixtures.js <outdir> [--scale N]`.
 * Scale 1 gives the small committed fixtures; larger scales feed the benchmark.
 */
import { stat } from 'node:fs/promises';
import { writeK3sFixtures } from './lib/bundle-gen.js';

const USAGE = 'usage: make-fixtures <outdir> [--scale N]';

function parseArgs(args: string[]): { outDir: string; scale: number } {
  const scaleAt = args.indexOf('--scale');
  const scale = scaleAt === -1 ? 1 : Number(args[scaleAt + 1]);
  const positional = scaleAt === -1 ? args : args.filter((_, i) => i !== scaleAt && i !== scaleAt + 1);
  if (positional.length !== 1 || !(scale > 0)) throw new Error(USAGE);
  return { outDir: positional[0], scale };
}

async function main(): Promise<void> {
  const { outDir, scale } = parseArgs(process.argv.slice(2));
  for (const file of await writeK3sFixtures(outDir, { scale })) {
    console.log(`wrote ${file} (${(await stat(file)).size} bytes)`);
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
