/**
 * Smoke test of `npm run bench` (scripts/bench.ts) at a tiny scale: it runs end to end against
 * real registries and prints the table with the airlift and floor rows. It times nothing itself:
 * the figures are the benchmark's business, not a test's.
 */
import { expect, test } from '@jest/globals';
import { join } from 'node:path';
import { ROW_LABELS } from '../scripts/lib/bench/report.js';
import { run, tempDir } from './helpers/tools.js';

const benchScript = join(import.meta.dirname, '..', 'dist', 'scripts', 'bench.js');

/** The cells of the Markdown table rows whose first cell is `label`. */
function rowCells(stdout: string, label: string): string[] | undefined {
  return stdout
    .split('\n')
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .find((cells) => cells[0] === label);
}

test('bench --only airlift,floor --rounds 2 prints their median rows and the targets', async () => {
  // A private TMPDIR keeps airlift's run dirs out of /tmp, which test/formats.test.ts watches.
  const env = { TMPDIR: await tempDir('airlift-bench-test-') };
  const args = [benchScript, '--scale', '2', '--only', 'airlift,floor', '--rounds', '2'];
  const { code, stdout, stderr } = await run(process.execPath, args, { env, timeoutMs: 90_000 });
  expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });

  for (const label of [
    ROW_LABELS.floor,
    ROW_LABELS.airlift,
    ROW_LABELS['airlift-rerun'],
    ROW_LABELS['airlift-none'],
    ROW_LABELS['airlift-2x'],
  ]) {
    const [, wallSeconds, peakRssMB] = rowCells(stdout, label) ?? [];
    expect({ label, wallSeconds: Number(wallSeconds) > 0, peakRssMB: Number(peakRssMB) > 0 }).toEqual({
      label,
      wallSeconds: true,
      peakRssMB: true,
    });
  }
  // Each row is the median of its two runs, and says so with their spread.
  expect(stdout).toMatch(/^rounds: 2, interleaved/m);
  // By default the images' binaries are cut from a real executable, so they compress like real ones.
  expect(stdout).toMatch(/^ {2}scale 2: 3 bundles, .* MB gzipped\); binaries cut from \S*docker-registry$/m);
  expect(rowCells(stdout, ROW_LABELS.airlift)?.[4]).toMatch(/^median of 2 runs \(\d+\.\d\d–\d+\.\d\d s\); \d+ MB uploaded$/);
  expect(rowCells(stdout, ROW_LABELS.skopeo)).toBeUndefined();
  expect(rowCells(stdout, ROW_LABELS.docker)).toBeUndefined();

  expect(rowCells(stdout, 'airlift ≤ 1.25× the compute floor')?.[1]).toMatch(/^\d+\.\d\d×$/);
  expect(rowCells(stdout, 'airlift ≥ 5× faster than the docker script')?.slice(1)).toEqual(['n/a', 'n/a']);
  expect(rowCells(stdout, 're-run on a loaded registry ≤ 1.5 s')?.[2]).toMatch(/^(PASS|FAIL)$/);
});

test('bench-ab loads the bundles with two builds in turn and prints each run, the means and B against A', async () => {
  const env = { TMPDIR: await tempDir('airlift-bench-ab-test-') };
  const root = join(import.meta.dirname, '..');
  const bundle = join(root, 'fixtures', 'k3s-airgap-images-amd64.tar.gz');
  const script = join(root, 'dist', 'scripts', 'bench-ab.js');
  const args = [script, '--rounds', '2', root, `${root}#--concurrency 2`, '--', bundle];
  const { code, stdout, stderr } = await run(process.execPath, args, { env, timeoutMs: 90_000 });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const lines = stdout.trim().split('\n');
  const measured = /\t\d+\.\d\d s\tscans \d+\.\d\d s\ttail \d+\.\d\d s\tpeak RSS \d+ MB\tCPU \d+\.\d\d s$/;
  expect(lines.slice(0, 4).map((line) => line.split('\t')[0])).toEqual([
    `${root} (1)`,
    `${root}#--concurrency 2 (1)`,
    `${root} (2)`,
    `${root}#--concurrency 2 (2)`,
  ]);
  for (const line of lines.slice(0, 6)) expect(line).toMatch(measured);
  expect(lines[6]).toMatch(/^B against A: wall [+-]\d+\.\d %, scans [+-]\d+\.\d %, tail [+-]\d+\.\d %, CPU [+-]\d+\.\d %$/);
});
