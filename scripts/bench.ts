/**
 * `npm run bench`: generates a k3s-like bundle set (3 arches) and, in one run, times airlift
 * against the compute floor, skopeo + podman and the docker load/tag/push/manifest script, each
 * against a fresh local registry; prints a table (or JSON) with the issue-6 targets.
 *
 *   node dist/scripts/bench.js [--scale 4000] [--keep] [--only airlift,floor,skopeo,docker] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchImages, type BundleSet, bundleSet, keepDir } from './lib/bench/bundles.js';
import { airlift, airliftOnce, dockerScript, floor, type Outcome, skopeoPodman, type Workload } from './lib/bench/contenders.js';
import { assertGnuTime } from './lib/bench/measure.js';
import { buildReport, loadAverage, machine, renderText, type RowId } from './lib/bench/report.js';

const CONTENDERS = ['floor', 'airlift', 'skopeo', 'docker'] as const;
type Contender = (typeof CONTENDERS)[number];

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function main(): Promise<void> {
  const args = await yargs(hideBin(process.argv))
    .usage('$0 [options]\n\nBenchmarks airlift load against the compute floor, skopeo + podman and the docker script.')
    .option('scale', { type: 'number', default: 4000, describe: 'bundle size: 4000 ≈ 630 MB uncompressed per arch' })
    .option('keep', { type: 'boolean', default: false, describe: 'keep generated bundles in .bench/ and reuse them' })
    .option('only', {
      type: 'string',
      default: CONTENDERS.join(','),
      describe: `comma-separated contenders: ${CONTENDERS.join(', ')} (airlift includes its re-run, --compression none and ×2 rows)`,
    })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON document instead of the table' })
    .strict()
    .check(({ scale, only }) => {
      if (!(scale > 0)) throw new Error('--scale must be a positive number');
      const unknown = only.split(',').filter((name) => !CONTENDERS.includes(name as Contender));
      if (unknown.length) throw new Error(`--only: unknown contender(s) ${unknown.join(', ')}; choose from ${CONTENDERS.join(', ')}`);
      return true;
    })
    .help()
    .parseAsync();
  const only = new Set(args.only.split(',') as Contender[]);
  assertGnuTime();

  const workDir = await mkdtemp(join(tmpdir(), 'airlift-bench-'));
  try {
    const startLoad = loadAverage();
    const bundleDir = args.keep ? keepDir : join(workDir, 'bundles');
    const generate = async (scale: number): Promise<BundleSet> => {
      progress(`bundles at scale ${scale} (generated once with --keep)…`);
      return bundleSet(bundleDir, scale);
    };
    const sets = [await generate(args.scale)];
    if (only.has('airlift')) sets.push(await generate(args.scale * 2));
    const [work, twice] = sets.map((set): Workload => ({ bundles: set.bundles, images: benchImages(), workDir }));

    const outcomes: Partial<Record<RowId, Outcome>> = {};
    const measure = async (id: RowId, fn: () => Promise<Outcome>) => {
      progress(`${id}…`);
      outcomes[id] = await fn();
      const outcome = outcomes[id];
      progress('measurement' in outcome ? `${id}: ${(outcome.measurement.wallMs / 1000).toFixed(2)} s` : `${id}: ${outcome.skipped}`);
    };
    // The floor goes first: it reads every bundle, so all contenders find them in the page cache.
    if (only.has('floor')) await measure('floor', () => floor(work));
    if (only.has('airlift')) {
      progress('airlift (load, re-run, --compression none)…');
      const { load, rerun, uncompressed } = await airlift(work);
      Object.assign(outcomes, { airlift: load, 'airlift-rerun': rerun, 'airlift-none': uncompressed });
    }
    if (only.has('skopeo')) await measure('skopeo', () => skopeoPodman(work));
    if (only.has('docker')) await measure('docker', () => dockerScript(work));
    if (only.has('airlift')) await measure('airlift-2x', () => airliftOnce(twice));

    const report = buildReport(outcomes, { machine: machine(), loadAverage: { start: startLoad, end: loadAverage() }, bundleSets: sets });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderText(report));
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
