/**
 * Process helpers shared by the tests and the scripts (demo, benchmarks): one-shot commands
 * (`run`, `runOrThrow`) and long-running daemons (`startDaemon`) such as a throwaway registry.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RunOptions {
  input?: string | Buffer;
  /** Merged over the current environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Called with the process id once the command started (e.g. to sample /proc/PID). */
  onStart?: (pid: number) => void;
}

export interface RunResult {
  /** Exit code; a process killed by a signal reports 128 + signal number, like a shell. */
  code: number;
  stdout: string;
  stderr: string;
}

/** The path of `cmd` on PATH, if it is an executable file there. */
export function which(cmd: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, cmd))
    .find((file) => {
      try {
        accessSync(file, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** True when `cmd` is an executable file on PATH. */
export function has(cmd: string): boolean {
  return which(cmd) !== undefined;
}

/** Runs a command to completion. Resolves on any exit code; rejects only if it cannot start or times out. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { input, env, cwd, timeoutMs = 60_000 } = opts;
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) opts.onStart?.(child.pid);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  if (child.stdin) {
    // The child may exit without reading all its input; its exit code tells that story, not EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  }
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128 + osConstants.signals[signal!], stdout: stdout(), stderr: stderr() };
      if (timedOut) reject(new Error(`${commandLine(cmd, args)} timed out after ${timeoutMs} ms\n${result.stderr}`));
      else resolve(result);
    });
  });
}

/** Runs a command and returns its stdout; throws with its stderr when it exits non-zero. */
export async function runOrThrow(cmd: string, args: string[], opts?: RunOptions): Promise<string> {
  const { code, stdout, stderr } = await run(cmd, args, opts);
  if (code !== 0) throw new Error(`${commandLine(cmd, args)} exited with ${code}\n${stderr}`);
  return stdout;
}

/**
 * A fresh directory for the caller to remove: under the test run's temp root when there is one
 * (test/global-setup.ts sets AIRLIFT_TEST_TMP and removes it when the run ends), else under the
 * OS temp dir.
 */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(process.env.AIRLIFT_TEST_TMP ?? tmpdir(), prefix));
}

export interface Daemon {
  /** The daemon's process id (setpriv execs it, so this is the daemon itself), for resource readings. */
  pid: number;
  /** Polls `probe` until it returns true. On timeout or early exit, kills the daemon and throws with its log. */
  waitUntil(probe: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL if still running after `graceMs`. No-op once exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

/**
 * Starts a long-running process with stdout and stderr appended to `logFile`.
 *
 * Jest runs tests in a sandbox whose `process.on('exit')` never fires, so instead of exit hooks
 * the daemon gets a parent-death signal (util-linux `setpriv`): it is SIGKILLed when the test
 * process dies, however it dies. It is also unref'd, so a daemon a test forgot to stop does not
 * keep Jest from exiting.
 */
export function startDaemon(cmd: string, args: string[], logFile: string): Daemon {
  const name = commandLine(cmd, args);
  const [file, argv] = has('setpriv') ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
  const log = openSync(logFile, 'a');
  const child = spawn(file, argv, { stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = signal ?? `code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exitStatus = err.message;
      resolve();
    });
  });
  const signal = async (sig: NodeJS.Signals) => {
    if (exitStatus !== undefined) return;
    child.ref(); // keep the test process alive until the exit is observed
    child.kill(sig);
    await exited;
  };

  const stop = async (graceMs = 10_000) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await signal('SIGTERM');
    clearTimeout(timer);
  };
  const waitUntil = async (probe: () => Promise<boolean>, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (exitStatus === undefined && Date.now() < deadline) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const why = exitStatus === undefined ? `not ready after ${timeoutMs} ms` : `exited (${exitStatus})`;
    await signal('SIGKILL');
    throw new Error(`${name} ${why}; its log ends with:\n${logTail(logFile)}`);
  };
  return { pid: child.pid ?? 0, waitUntil, stop, kill: () => signal('SIGKILL') };
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  stream?.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('utf8');
}

function logTail(logFile: string): string {
  return readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
}

function commandLine(cmd: string, args: string[]): string {
  return [cmd, ...args].join(' ');
}
