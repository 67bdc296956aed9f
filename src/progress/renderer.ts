/**
 * Progress renderers for load events, all on stderr: an ora spinner on a terminal, plain
 * timestamped lines elsewhere (no spinner frames, no colour), nothing with --quiet.
 * NO_COLOR turns colour off on the terminal too.
 */
import { styleText } from 'node:util';
import type { Ora } from 'ora';
import { shortDigest } from '../oci/digest.js';
import type { BlobAction, LoadEvent, Phase } from '../load/events.js';
import { formatBytes, formatDuration } from './format.js';
import { type ImageProgress, Progress } from './state.js';

export interface Renderer {
  onEvent(event: LoadEvent): void;
  /** Stops any animation, with a closing line when the run got to the end; call before printing results. */
  stop(completed: boolean): void;
}

export interface RendererOptions {
  quiet?: boolean;
  tty?: boolean;
  stream?: NodeJS.WriteStream;
  /** Defaults to the NO_COLOR convention (https://no-color.org). */
  color?: boolean;
}

/** ora's spinner factory. */
export type Spinner = (typeof import('ora'))['default'];

/** ora is loaded only when a terminal shows a spinner: scripted runs (pipes, CI, --quiet) skip its ~80 ms of module loading. */
export const loadSpinner = async (): Promise<Spinner> => (await import('ora')).default;

export async function createRenderer(options: RendererOptions = {}): Promise<Renderer> {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { onEvent: () => {}, stop: () => {} };
  // A terminal that reports no width (a pty nobody sized) cannot be redrawn in place.
  const tty = options.tty ?? Boolean(stream.isTTY && stream.columns > 0 && !process.env.CI && process.env.TERM !== 'dumb');
  const color = options.color ?? !process.env.NO_COLOR;
  return tty ? new SpinnerRenderer(stream, color, await loadSpinner()) : new LineRenderer(stream);
}

const phaseText: Record<Phase, string> = {
  reading: 'reading archives',
  planning: 'planning',
  uploading: 'uploading layers',
  verifying: 'pushing and verifying tags',
};

const blobText = (blobs: Progress['blobs']): string =>
  `${blobs.uploaded.count} uploaded (${formatBytes(blobs.uploaded.bytes)}), ${blobs.mounted.count} mounted, ${blobs.skipped.count} already present`;

const planText = (p: NonNullable<Progress['plan']>): string =>
  `${p.tags.length} tag(s), ${p.tags.reduce((n, t) => n + t.platforms.length, 0)} platform image(s), ${p.layers} distinct layer(s) (${formatBytes(p.bytes)})`;

const doneText = (progress: Progress): string =>
  progress.phase === 'planning' && progress.plan
    ? `planned: ${planText(progress.plan)}`
    : `done: ${progress.tagged} tag(s) verified, ${progress.failures} failed; blobs ${blobText(progress.blobs)}`;

const actionText: Record<BlobAction, string> = { uploaded: 'uploaded', mounted: 'mounted', skipped: 'already present' };

class LineRenderer implements Renderer {
  private readonly progress = new Progress();
  private lastProgressLine = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  onEvent(event: LoadEvent): void {
    const completed = this.progress.add(event);
    switch (event.type) {
      case 'phase':
        return this.line(phaseText[event.phase]);
      case 'archive':
        return this.line(`${event.archive}: ${event.format}, ${event.compression}, ${event.images} image(s)`);
      case 'plan':
        return this.line(`plan: ${planText(this.progress.plan!)}`);
      case 'read':
      case 'layer':
        for (const image of completed) this.line(`${image.name}: all ${image.layers} layer(s) in place (${formatBytes(image.bytes)})`);
        return this.throttledProgress(event.type === 'read' && event.total > 0 && event.bytes >= event.total);
      case 'blob':
        return this.line(
          `${event.kind} ${shortDigest(event.digest)} ${actionText[event.action]} (${formatBytes(event.size)}) in ${event.repository}`,
        );
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
    if (completed) this.line(doneText(this.progress));
  }

  /** Totals with rate and ETA, at most every two seconds (and when a read pass ends). */
  private throttledProgress(final: boolean): void {
    const now = Date.now();
    if (now - this.lastProgressLine < 2000 && !final) return;
    this.lastProgressLine = now;
    this.line(`${phaseText[this.progress.phase]}: ${this.progress.totalsText()}`);
  }

  private line(text: string): void {
    this.stream.write(`${new Date().toISOString()} ${text}\n`);
  }
}

/** Images shown under the spinner line; the rest are counted. */
const maxImageLines = 5;

class SpinnerRenderer implements Renderer {
  private readonly progress = new Progress();
  private readonly spinner: Ora;
  private lastBlob = '';

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly color: boolean,
    ora: Spinner,
  ) {
    // createRenderer has decided this is a terminal; ora's own test would also refuse any CI variable.
    this.spinner = ora({ stream, text: 'starting', color: color ? 'cyan' : false, isEnabled: true }).start();
  }

  onEvent(event: LoadEvent): void {
    const previousPhase = this.progress.phase;
    const phaseStarted = this.progress.phaseStarted;
    this.progress.add(event);
    switch (event.type) {
      case 'phase': {
        // A line for each phase that moved bytes, as it ends.
        const took = formatDuration(Date.now() - phaseStarted);
        if (event.phase === previousPhase) break;
        if (previousPhase === 'reading') this.persist('✔', 'green', `${this.progress.archivesText()} in ${took}`);
        if (previousPhase === 'uploading') this.persist('✔', 'green', `layers: ${blobText(this.progress.blobs)} in ${took}`);
        break;
      }
      case 'plan':
        this.persist('✔', 'green', `plan: ${planText(this.progress.plan!)}`);
        break;
      case 'blob':
        this.lastBlob = `${event.kind} ${shortDigest(event.digest)} ${actionText[event.action]} → ${event.repository}`;
        break;
      case 'tag':
        this.persist('✔', 'green', `${event.target} [${event.platforms.join(', ')}]`);
        break;
      case 'notice':
        this.persist('ℹ', 'blue', event.message);
        break;
      case 'warning':
        this.persist('⚠', 'yellow', event.message);
        break;
      case 'failure':
        this.persist('✖', 'red', `${event.target}: ${event.message}`);
        break;
    }
    this.spinner.text = this.text();
  }

  stop(completed: boolean): void {
    if (!completed) this.spinner.stop();
    else if (this.progress.failures) this.persist('✖', 'red', doneText(this.progress), false);
    else this.persist('✔', 'green', doneText(this.progress), false);
  }

  private text(): string {
    const { progress } = this;
    const head = `${phaseText[progress.phase]}  ${progress.phase === 'planning' ? '' : progress.totalsText()}`.trimEnd();
    if (progress.phase !== 'uploading' && progress.phase !== 'verifying') return this.fit(head);
    const pending = progress.pendingImages();
    const shown = pending.slice(0, maxImageLines).map((image) => `  ${imageLine(image)}`);
    if (pending.length > shown.length) shown.push(`  … ${pending.length - shown.length} more`);
    const blobs = `  blobs: ${blobText(progress.blobs)}${this.lastBlob ? ` · last: ${this.lastBlob}` : ''}`;
    return [head, ...shown, blobs].map((line) => this.fit(line)).join('\n');
  }

  /** One terminal row per line, so the spinner clears exactly what it drew. */
  private fit(line: string): string {
    const width = (this.stream.columns || 80) - 3;
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  }

  private persist(symbol: string, style: 'green' | 'blue' | 'yellow' | 'red', text: string, restart = true): void {
    this.spinner.stopAndPersist({ symbol: this.color ? styleText(style, symbol) : symbol, text });
    if (restart) this.spinner.start(this.text());
  }
}

function imageLine(image: ImageProgress): string {
  const state = image.layersDone === image.layers ? 'layers in place' : `${image.layersDone}/${image.layers} layers`;
  const platforms = image.platforms.map((p) => p.replace(/^linux\//, '')).join(', ');
  return `${image.name}  [${platforms}]  ${state}  ${formatBytes(image.bytesDone)}/${formatBytes(image.bytes)}`;
}
