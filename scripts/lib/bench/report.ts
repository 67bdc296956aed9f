/** The benchmark's table and targets (issue 6), as text or JSON. */
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { BundleSet } from './bundles.js';
import type { Outcome } from './contenders.js';
import { megabytes, type Measurement } from './measure.js';

export type RowId = 'floor' | 'airlift' | 'airlift-rerun' | 'airlift-none' | 'airlift-2x' | 'skopeo' | 'docker';

export const ROW_LABELS: Record<RowId, string> = {
  floor: 'compute floor: gunzip → sha256 → gzip -1 → sha256',
  airlift: 'airlift load',
  'airlift-rerun': 'airlift load, re-run on the loaded registry',
  'airlift-none': 'airlift load --compression none',
  'airlift-2x': 'airlift load, bundles twice the size',
  skopeo: 'gunzip + skopeo copy + podman manifest',
  docker: 'docker load/tag/push + docker manifest',
};

export interface Row {
  id: RowId;
  label: string;
  outcome: Outcome;
  /** How airlift compares with this row. */
  comparison?: string;
}

export interface Target {
  goal: string;
  measured: string;
  /** Null when a row it needs was not measured. */
  pass: boolean | null;
}

export interface Report {
  machine: string;
  loadAverage: { start: number; end: number };
  bundleSets: BundleSet[];
  /** Runs of every contender; each row shows its median run. */
  rounds: number;
  rows: Row[];
  targets: Target[];
}

export function machine(): string {
  const cores = cpus();
  return `${cores.length} × ${cores[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}`;
}

export function loadAverage(): number {
  return loadavg()[0];
}

/**
 * `runs` holds every round's outcome per row. Rows and ratios use each row's median run; the
 * RSS targets use the highest peak of all runs, as a limit must hold for every run.
 */
export function buildReport(runs: Partial<Record<RowId, Outcome[]>>, context: Omit<Report, 'rows' | 'targets'>): Report {
  const outcomes = Object.fromEntries(Object.entries(runs).map(([id, list]) => [id, medianRun(list)])) as Partial<Record<RowId, Outcome>>;
  const measured = (id: RowId): Measurement | undefined => {
    const outcome = outcomes[id];
    return outcome && 'measurement' in outcome ? outcome.measurement : undefined;
  };
  const highestPeak = (id: RowId): number | undefined => {
    const peaks = (runs[id] ?? []).flatMap((outcome) => ('measurement' in outcome ? [outcome.measurement.peakRssKiB] : []));
    return peaks.length ? Math.max(...peaks) : undefined;
  };
  const airlift = measured('airlift');
  // Figures are rounded as they are shown, so that a PASS or FAIL agrees with the printed number.
  const ratio = (id: RowId, of: (row: Measurement, airlift: Measurement) => number): number | undefined => {
    const row = measured(id);
    return row && airlift ? round(of(row, airlift), 2) : undefined;
  };
  const overFloor = ratio('floor', (floor, a) => a.wallMs / floor.wallMs);
  const fasterThanSkopeo = ratio('skopeo', (peer, a) => peer.wallMs / a.wallMs);
  const fasterThanDocker = ratio('docker', (peer, a) => peer.wallMs / a.wallMs);
  const [onceRss, twiceRss] = [highestPeak('airlift'), highestPeak('airlift-2x')];
  const rssGrowth = onceRss && twiceRss ? round(twiceRss / onceRss - 1, 3) : undefined;
  const airliftRows: RowId[] = ['airlift', 'airlift-rerun', 'airlift-none', 'airlift-2x'];
  const airliftPeaks = airliftRows.flatMap((id) => highestPeak(id) ?? []);
  const peakRssMB = airliftPeaks.length ? round(megabytes(Math.max(...airliftPeaks) * 1024), 0) : undefined;
  const rerun = measured('airlift-rerun');
  const rerunSeconds = rerun && round(rerun.wallMs / 1000, 2);

  const comparisons: Partial<Record<RowId, string | undefined>> = {
    floor: overFloor !== undefined ? `airlift takes ${times(overFloor)} the floor` : undefined,
    skopeo: fasterThanSkopeo !== undefined ? `airlift ${times(fasterThanSkopeo)} faster` : undefined,
    docker: fasterThanDocker !== undefined ? `airlift ${times(fasterThanDocker)} faster` : undefined,
    'airlift-2x': rssGrowth !== undefined ? `peak RSS ${percent(rssGrowth)} vs ×1` : undefined,
  };
  const rows = (Object.keys(ROW_LABELS) as RowId[]).flatMap((id) => {
    const outcome = outcomes[id];
    return outcome ? [{ id, label: ROW_LABELS[id], outcome, comparison: comparisons[id] }] : [];
  });
  const target = (goal: string, value: number | undefined, show: (v: number) => string, ok: (v: number) => boolean): Target =>
    value === undefined ? { goal, measured: 'n/a', pass: null } : { goal, measured: show(value), pass: ok(value) };
  const targets = [
    target('airlift ≤ 1.25× the compute floor', overFloor, times, (v) => v <= 1.25),
    target('airlift ≥ 5× faster than the docker script', fasterThanDocker, times, (v) => v >= 5),
    target('airlift ≥ 1.6× faster than skopeo + podman', fasterThanSkopeo, times, (v) => v >= 1.6),
    target(
      're-run on a loaded registry ≤ 1.5 s',
      rerunSeconds,
      (v) => `${v.toFixed(2)} s`,
      (v) => v <= 1.5,
    ),
    target(
      'airlift peak RSS ≤ 256 MB (every run)',
      peakRssMB,
      (v) => `${v.toFixed(0)} MB`,
      (v) => v <= 256,
    ),
    // Flat memory: twice the data may cost at most 10% more (less is noise, and fine).
    target('peak RSS on bundles ×2 within +10% of ×1', rssGrowth, percent, (v) => v <= 0.1),
  ];
  return { ...context, rows, targets };
}

/** The run with the median wall time (the lower middle of an even count), noting the spread; or why none was measured. */
function medianRun(list: Outcome[]): Outcome {
  const measured = list
    .flatMap((outcome) => ('measurement' in outcome ? [outcome] : []))
    .sort((a, b) => a.measurement.wallMs - b.measurement.wallMs);
  if (measured.length === 0) return list[0];
  const median = measured[Math.floor((measured.length - 1) / 2)];
  if (measured.length === 1) return median;
  const seconds = (run: (typeof measured)[number]) => (run.measurement.wallMs / 1000).toFixed(2);
  const spread = `median of ${measured.length} runs (${seconds(measured[0])}–${seconds(measured[measured.length - 1])} s)`;
  return { ...median, note: [spread, median.note].filter(Boolean).join('; ') };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

function times(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

function percent(fraction: number): string {
  return `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)}%`;
}

export function renderText(report: Report): string {
  const sets = report.bundleSets.map(({ scale, executable, bundles }) => {
    const tar = bundles.map((b) => megabytes(b.tarBytes).toFixed(0)).join(' + ');
    const gzip = bundles.map((b) => megabytes(b.gzipBytes).toFixed(0)).join(' + ');
    const binaries = executable ? `binaries cut from ${executable}` : 'binaries of random bytes';
    return `  scale ${scale}: ${bundles.length} bundles, ${tar} MB uncompressed (${gzip} MB gzipped); ${binaries}`;
  });
  const rows = report.rows.map(({ label, outcome, comparison }) => {
    if ('skipped' in outcome) return [label, '', '', '', outcome.skipped];
    const { wallMs, peakRssKiB, cpuMs } = outcome.measurement;
    const notes = [comparison, outcome.note].filter(Boolean).join('; ');
    return [label, (wallMs / 1000).toFixed(2), megabytes(peakRssKiB * 1024).toFixed(0), (cpuMs / 1000).toFixed(1), notes];
  });
  const targets = report.targets.map(({ goal, measured, pass }) => [goal, measured, pass === null ? 'n/a' : pass ? 'PASS' : 'FAIL']);
  const { start, end } = report.loadAverage;
  return [
    `machine: ${report.machine}`,
    `load average (1 min): ${start.toFixed(2)} at start, ${end.toFixed(2)} at end`,
    ...(report.rounds > 1 ? [`rounds: ${report.rounds}, interleaved; each row is its median run, RSS targets take every run's peak`] : []),
    'bundles:',
    ...sets,
    '',
    ...table(['contender', 'wall s', 'peak RSS MB', 'CPU s', 'notes'], rows, [false, true, true, true, false]),
    '',
    ...table(['target', 'measured', 'result'], targets, [false, true, false]),
    '',
  ].join('\n');
}

/** A Markdown table, padded so that it also reads well in a terminal and pastes into the README. */
export function table(header: string[], rows: string[][], alignRight: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (alignRight[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (alignRight[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)];
}
