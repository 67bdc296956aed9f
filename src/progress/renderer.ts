/**
 * Progress renderers for load events, all on stderr: an ora spinner on a terminal, plain
 * timestamped lines elsewhere (no spinner frames, no colour), nothing with --quiet.
 */
import ora, { type Ora } from 'ora';
import { shortDigest } from '../oci/digest.js';
import type { BlobAction, LoadEvent } from '../load/events.js';
import { formatBytes, rateAndEta } from './format.js';

export interface Renderer {
  onEvent(event: LoadEvent): void;
  /** Stops any animation, with a closing line when the run got to the end; call before printing results. */
  stop(completed: boolean): void;
}

export interface RendererOptions {
  quiet?: boolean;
  tty?: boolean;
  stream?: NodeJS.WriteStream;
}

export function createRenderer(options: RendererOptions = {}): Renderer {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { onEvent: () => {}, stop: () => {} };
  const tty = options.tty ?? Boolean(stream.isTTY && !process.env.CI);
  return tty ? new SpinnerRenderer(stream) : new LineRenderer(stream);
}

/** Counts what layers and configs did, for both renderers. */
class Tally {
  readonly blobs: Record<BlobAction, { count: number; bytes: number }> = {
    uploaded: { count: 0, bytes: 0 },
    mounted: { count: 0, bytes: 0 },
    skipped: { count: 0, bytes: 0 },
  };
  tags = 0;
  failures = 0;

  add(event: LoadEvent): void {
    if (event.type === 'blob') {
      this.blobs[event.action].count++;
      this.blobs[event.action].bytes += event.size;
    } else if (event.type === 'tag') this.tags++;
    else if (event.type === 'failure') this.failures++;
  }

  toString(): string {
    const { uploaded, mounted, skipped } = this.blobs;
    return `${uploaded.count} uploaded (${formatBytes(uploaded.bytes)}), ${mounted.count} mounted, ${skipped.count} already present; ${this.tags} tags`;
  }
}

/** Bytes read of a known total, or — while standard input is copied — with no total. */
function readText(bytes: number, total: number, elapsedMs: number): string {
  if (total === 0) return `received ${formatBytes(bytes)} from standard input`;
  return `read ${formatBytes(bytes)} of ${formatBytes(total)} ${rateAndEta(bytes, total, elapsedMs)}`.trimEnd();
}

const phaseText = { reading: 'reading archives', planning: 'planning', uploading: 'uploading', verifying: 'pushing and verifying tags' };

class LineRenderer implements Renderer {
  private readonly tally = new Tally();
  private readonly started = Date.now();
  private lastReadLine = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  onEvent(event: LoadEvent): void {
    this.tally.add(event);
    switch (event.type) {
      case 'phase':
        return this.line(phaseText[event.phase]);
      case 'archive':
        return this.line(`${event.archive}: ${event.format}, ${event.compression}, ${event.images} image(s)`);
      case 'read': {
        const now = Date.now();
        const finished = event.total > 0 && event.bytes >= event.total;
        if (now - this.lastReadLine < 2000 && !finished) return;
        this.lastReadLine = now;
        return this.line(readText(event.bytes, event.total, now - this.started));
      }
      case 'blob':
        return this.line(`${event.kind} ${shortDigest(event.digest)} ${event.action} (${formatBytes(event.size)}) in ${event.repository}`);
      case 'tag':
        return this.line(`tagged ${event.target} ${shortDigest(event.digest)} [${event.platforms.join(', ')}]`);
      case 'notice':
        return this.line(event.message);
      case 'warning':
        return this.line(`warning: ${event.message}`);
      case 'failure':
        return this.line(`failed: ${event.target}: ${event.message}`);
    }
  }

  stop(completed: boolean): void {
    if (completed) this.line(`done: ${this.tally}`);
  }

  private line(text: string): void {
    this.stream.write(`${new Date().toISOString()} ${text}\n`);
  }
}

class SpinnerRenderer implements Renderer {
  private readonly tally = new Tally();
  private readonly spinner: Ora;
  private phase = 'starting';
  private read = '';
  private phaseStarted = Date.now();

  constructor(stream: NodeJS.WriteStream) {
    this.spinner = ora({ stream, text: 'starting' }).start();
  }

  onEvent(event: LoadEvent): void {
    this.tally.add(event);
    switch (event.type) {
      case 'phase':
        this.phase = phaseText[event.phase];
        this.phaseStarted = Date.now();
        this.read = '';
        break;
      case 'read':
        this.read = readText(event.bytes, event.total, Date.now() - this.phaseStarted);
        break;
      case 'tag':
        this.spinner.stopAndPersist({ symbol: '✔', text: `${event.target} [${event.platforms.join(', ')}]` });
        this.spinner.start();
        break;
      case 'notice':
        this.spinner.info(event.message);
        this.spinner.start();
        break;
      case 'warning':
        this.spinner.warn(event.message);
        this.spinner.start();
        break;
      case 'failure':
        this.spinner.fail(`${event.target}: ${event.message}`);
        this.spinner.start();
        break;
    }
    this.spinner.text = `${this.phase} ${this.read} · ${this.tally}`;
  }

  stop(completed: boolean): void {
    if (!completed) this.spinner.stop();
    else this.spinner.stopAndPersist({ symbol: this.tally.failures ? '✖' : '✔', text: `done: ${this.tally}` });
  }
}
