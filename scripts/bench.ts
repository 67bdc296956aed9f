/**
 * `npm run bench`: generates a k3s-like bundle set (3 arches) and, in one run, times airlift
 * against the compute floor, skopeo + podman and the docker load/tag/push/manifest script, each
 * against a fresh local registry; prints a table (or JSON) with the issue-6 targets.
 *
 * With `--rounds N` every contender runs N times, interleaved round by round, and each row shows
 * its median run: on a machine whose speed drifts (shared VMs), one round can time contenders
 * minutes apart at different speeds.
 *
 *   node dist/scripts/bench.js [--scale 4000] [--keep] [--rounds 1] [--only airlift,floor,skopeo,docker]
 *                              [--content executables|random] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { benchImages, type BundleSet, bundleSet, contentOption, keepDir } from './lib/bench/bundles.js';
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
    .option('rounds', {
      type: 'number',
      default: 1,
      describe: 'run every contender this many times, interleaved; rows show the median run',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON document instead of the table' })
    .option('content', contentOption)
    .strict()
    .check(({ scale, rounds, only }) => {
      if (!(scale > 0)) throw new Error('--scale must be a positive number');
      if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error('--rounds must be a whole number ≥ 1');
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
      progress(`bundles at scale ${scale}, binaries: ${args.content} (generated once with --keep)…`);
      return bundleSet(bundleDir, scale, args.content);
    };
    const sets = [await generate(args.scale)];
    if (only.has('airlift')) sets.push(await generate(args.scale * 2));
    const [work, twice] = sets.map((set): Workload => ({ bundles: set.bundles, images: benchImages(), workDir }));

    const runs: Partial<Record<RowId, Outcome[]>> = {};
    const record = (id: RowId, outcome: Outcome) => {
      (runs[id] ??= []).push(outcome);
      progress('measurement' in outcome ? `${id}: ${(outcome.measurement.wallMs / 1000).toFixed(2)} s` : `${id}: ${outcome.skipped}`);
    };
    const measure = async (id: RowId, fn: () => Promise<Outcome>) => {
      progress(`${id}…`);
      record(id, await fn());
    };
    for (let round = 1; round <= args.rounds; round++) {
      if (args.rounds > 1) progress(`round ${round} of ${args.rounds}`);
      // The floor goes first: it reads every bundle, so all contenders find them in the page cache.
      if (only.has('floor')) await measure('floor', () => floor(work));
      if (only.has('airlift')) {
        progress('airlift (load, re-run, --compression none)…');
        const { load, rerun, uncompressed } = await airlift(work);
        record('airlift', load);
        record('airlift-rerun', rerun);
        record('airlift-none', uncompressed);
      }
      if (only.has('skopeo')) await measure('skopeo', () => skopeoPodman(work));
      if (only.has('docker')) await measure('docker', () => dockerScript(work));
      if (only.has('airlift')) await measure('airlift-2x', () => airliftOnce(twice));
    }

    const report = buildReport(runs, {
      machine: machine(),
      loadAverage: { start: startLoad, end: loadAverage() },
      bundleSets: sets,
      rounds: args.rounds,
    });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderText(report));
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
