/**
 * Resource readings for the benchmark: wall time, peak RSS and CPU time of commands run under
 * GNU time (Debian package `time`), and of running daemons through /proc.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run, type RunOptions, type RunResult } from '../process.js';

export interface Usage {
  /** Peak resident set size in KiB (GNU time's %M, /proc's VmHWM). */
  peakRssKiB: number;
  cpuMs: number;
}

export interface Measurement extends Usage {
  wallMs: number;
}

const GNU_TIME = '/usr/bin/time';
/** The benchmark's commands take minutes at the default scale, not the 60 s `run` defaults to. */
const TIMEOUT_MS = 30 * 60_000;
/** /proc/<pid>/stat counts CPU time in USER_HZ ticks, which is 100 on Linux. */
const TICKS_PER_SECOND = 100;

let reportSeq = 0;

export function assertGnuTime(): void {
  if (!existsSync(GNU_TIME))
    throw new Error(`${GNU_TIME} not found: install GNU time (Debian package "time"); the benchmark reads peak RSS from it`);
}

/**
 * Runs a command under GNU time. Its %M is the peak RSS of the process (across `exec`s) and of
 * the children it waited for; %U/%S include those children too.
 */
export async function runMeasured(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult & Usage> {
  const report = join(tmpdir(), `airlift-bench-time-${process.pid}-${++reportSeq}`);
  try {
    const result = await run(GNU_TIME, ['-f', '%M %U %S', '-o', report, cmd, ...args], { timeoutMs: TIMEOUT_MS, ...opts });
    // On a non-zero exit GNU time writes "Command exited with non-zero status N" first.
    const [rss, user, sys] = (await readFile(report, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number);
    return { ...result, peakRssKiB: rss, cpuMs: Math.round((user + sys) * 1000) };
  } finally {
    await rm(report, { force: true });
  }
}

/** Usage of a running process so far: VmHWM and utime + stime. */
export async function processUsage(pid: number): Promise<Usage> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!hwm) throw new Error(`no VmHWM in /proc/${pid}/status: is process ${pid} still running?`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 overall.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { peakRssKiB: Number(hwm[1]), cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
}

/**
 * Accumulates the commands of a multi-step flow (a shell script's worth of tool calls): the
 * largest peak RSS among them, and their total CPU time.
 */
export class Tally implements Usage {
  peakRssKiB = 0;
  cpuMs = 0;

  add(usage: Usage): void {
    this.peakRssKiB = Math.max(this.peakRssKiB, usage.peakRssKiB);
    this.cpuMs += usage.cpuMs;
  }

  /** Runs one step under GNU time; returns its stdout, throws with its stderr if it fails. */
  async run(cmd: string, args: string[], opts?: RunOptions): Promise<string> {
    const result = await runMeasured(cmd, args, opts);
    this.add(result);
    if (result.code !== 0) throw new Error(`${[cmd, ...args].join(' ')} exited with ${result.code}\n${result.stderr}`);
    return result.stdout;
  }
}

/** Decimal megabytes, the unit of the benchmark's targets. */
export function megabytes(bytes: number): number {
  return bytes / 1e6;
}

/** Times `fn` on the wall clock. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ wallMs: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { wallMs: performance.now() - start, value };
}
