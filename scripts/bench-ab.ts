/**
 * Two builds of airlift side by side, for changes too small for `npm run bench` to tell from
 * the machine's drift:
 *
 *   node dist/scripts/bench-ab.js [--rounds 3] A B -- BUNDLE...
 *
 * A and B are checkouts with `dist/` built (`git worktree add /tmp/a <commit>`, node_modules
 * linked, `npx tsc -p tsconfig.json`), each optionally followed by `#` and extra load flags
 * (`.#--concurrency 8`). Runs alternate A, B, A, B…, each loading the bundles into a fresh
 * registry with an empty cache. Each run prints its wall time, split at the end of the last
 * scan (the "planning" progress line: the start-up and scans before it, uploads and tags
 * after), its peak RSS and CPU time; then the means, and B's against A's.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { assertGnuTime, runMeasured } from './lib/bench/measure.js';
import { tempDir } from './lib/process.js';
import { withRegistry } from './lib/registry.js';

interface Run {
  wallMs: number;
  /** From the start to the end of the last scan. */
  scansMs: number;
  peakRssKiB: number;
  cpuMs: number;
}

/** When each progress line's phase began, in ms after `started` (the line renderer stamps every line). */
function phaseStart(stderr: string, phase: string, started: number): number {
  const line = stderr.split('\n').find((l) => l.endsWith(` ${phase}`));
  if (!line) throw new Error(`no "${phase}" progress line in airlift's output:\n${stderr.slice(-2000)}`);
  return Date.parse(line.slice(0, line.indexOf(' '))) - started;
}

function loadOnce(build: string, bundles: string[]): Promise<Run> {
  const [dir, flags] = build.split('#');
  return withRegistry(async (registry) => {
    const cacheHome = await tempDir('airlift-ab-cache-');
    try {
      const cli = join(dir!, 'dist/src/cli/airlift.cjs');
      const args = [cli, 'load', '--registry', registry.host, '--plain-http', ...(flags ? flags.split(' ') : []), ...bundles];
      const started = Date.now();
      const result = await runMeasured(process.execPath, args, { env: { XDG_CACHE_HOME: cacheHome } });
      const wallMs = Date.now() - started;
      if (result.code !== 0) throw new Error(`${build}: airlift load exited with ${result.code}\n${result.stderr.slice(-2000)}`);
      return { wallMs, scansMs: phaseStart(result.stderr, 'planning', started), peakRssKiB: result.peakRssKiB, cpuMs: result.cpuMs };
    } finally {
      await rm(cacheHome, { recursive: true, force: true });
    }
  });
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

function row(label: string, run: Run): string {
  const tail = run.wallMs - run.scansMs;
  return `${label}\t${seconds(run.wallMs)} s\tscans ${seconds(run.scansMs)} s\ttail ${seconds(tail)} s\tpeak RSS ${Math.round(run.peakRssKiB / 1024)} MB\tCPU ${seconds(run.cpuMs)} s`;
}

function meanRun(runs: Run[]): Run {
  return {
    wallMs: mean(runs.map((r) => r.wallMs)),
    scansMs: mean(runs.map((r) => r.scansMs)),
    peakRssKiB: mean(runs.map((r) => r.peakRssKiB)),
    cpuMs: mean(runs.map((r) => r.cpuMs)),
  };
}

async function main(): Promise<void> {
  const args = await yargs(hideBin(process.argv))
    .usage('$0 [--rounds N] A B -- BUNDLE...\n\nInterleaved loads of the bundles by two builds of airlift.')
    .option('rounds', { type: 'number', default: 3, describe: 'runs of each build' })
    .parserConfiguration({ 'populate--': true })
    .parseAsync();
  const builds = args._.map(String);
  const bundles = (args['--'] as string[] | undefined) ?? [];
  if (builds.length !== 2 || bundles.length === 0) throw new Error('give two builds, then -- and the bundles');
  assertGnuTime();
  const runs: Run[][] = builds.map(() => []);
  for (let round = 1; round <= args.rounds; round++) {
    for (const [i, build] of builds.entries()) {
      const run = await loadOnce(build, bundles);
      runs[i]!.push(run);
      console.log(row(`${build} (${round})`, run));
    }
  }
  const [a, b] = runs.map(meanRun);
  console.log(row(`${builds[0]} mean`, a!));
  console.log(row(`${builds[1]} mean`, b!));
  const change = (x: number, y: number) => `${y >= x ? '+' : ''}${(((y - x) / x) * 100).toFixed(1)} %`;
  console.log(
    `B against A: wall ${change(a!.wallMs, b!.wallMs)}, scans ${change(a!.scansMs, b!.scansMs)}, tail ${change(a!.wallMs - a!.scansMs, b!.wallMs - b!.scansMs)}, CPU ${change(a!.cpuMs, b!.cpuMs)}`,
  );
}

main().catch((err: Error) => {
  console.error(`bench-ab: ${err.message}`);
  process.exitCode = 1;
});
