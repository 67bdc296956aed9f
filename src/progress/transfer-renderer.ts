/**
 * Progress for `sync` and `save` on stderr: one line per finished image or bundle with its
 * N/M, a spinner carrying the running totals on a terminal, timestamped lines elsewhere,
 * nothing with --quiet.
 */
import type { Ora } from 'ora';
import { shortDigest } from '../oci/digest.js';
import type { SaveEvent } from '../save/events.js';
import type { SyncEvent } from '../sync/events.js';
import { formatBytes, rateAndEta } from './format.js';
import { loadSpinner, type RendererOptions, type Spinner } from './renderer.js';

export type TransferEvent = SyncEvent | SaveEvent;

export interface TransferRenderer {
  onEvent(event: TransferEvent): void;
  /** Stops any animation, with a closing line when the run got to the end; call before printing results. */
  stop(completed: boolean): void;
}

export async function createTransferRenderer(options: RendererOptions = {}): Promise<TransferRenderer> {
  if (options.quiet) return { onEvent: () => {}, stop: () => {} };
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY && !process.env.CI);
  return new Renderer(stream, tty ? await loadSpinner() : undefined);
}

class Renderer implements TransferRenderer {
  private readonly spinner: Ora | undefined;
  private readonly started = Date.now();
  private readonly blobs = { uploaded: 0, mounted: 0, skipped: 0, bytes: 0 };
  private failures = 0;
  private status = '';
  private lastReadLine = 0;

  /** `ora` on a terminal; lines otherwise. */
  constructor(
    private readonly stream: NodeJS.WriteStream,
    ora: Spinner | undefined,
  ) {
    this.spinner = ora?.({ stream, text: 'starting' }).start();
  }

  onEvent(event: TransferEvent): void {
    switch (event.type) {
      case 'blob':
        this.blobs[event.action]++;
        if (event.action === 'uploaded') this.blobs.bytes += event.size;
        return this.update(this.tally());
      case 'synced': {
        const { image } = event;
        const digest =
          image.digest === image.sourceDigest
            ? shortDigest(image.digest)
            : `${shortDigest(image.digest)} (new index; source ${shortDigest(image.sourceDigest)})`;
        const platforms = image.platforms.map((p) => p.platform).join(', ');
        return this.persist('✔', `[${event.done}/${event.total}] ${image.source} → ${image.target} ${digest} [${platforms}]`);
      }
      case 'failure':
        this.failures++;
        return this.persist('✖', `[${event.done}/${event.total}] failed: ${event.target}: ${event.message}`);
      case 'resolved':
        return this.persist('✔', `[${event.done}/${event.total}] ${event.name} [${event.platforms.join(', ')}]`);
      case 'read': {
        const text = `downloaded ${formatBytes(event.bytes)} of ${formatBytes(event.total)} ${rateAndEta(event.bytes, event.total, Date.now() - this.started)}`;
        if (this.spinner) return this.update(text);
        if (Date.now() - this.lastReadLine < 2000 && event.bytes < event.total) return;
        this.lastReadLine = Date.now();
        return this.persist('', text.trimEnd());
      }
      case 'bundle': {
        const { bundle } = event;
        return this.persist(
          '✔',
          `wrote ${bundle.file} (${formatBytes(bundle.size)}, ${bundle.images.length} images, ${bundle.platforms.join(', ')})`,
        );
      }
      case 'warning':
        return this.persist('⚠', `warning: ${event.message}`);
    }
  }

  stop(completed: boolean): void {
    const summary = this.blobs.uploaded + this.blobs.mounted + this.blobs.skipped ? `done: ${this.tally()}` : 'done';
    if (!completed) this.spinner?.stop();
    else if (this.spinner) this.spinner.stopAndPersist({ symbol: this.failures ? '✖' : '✔', text: summary });
    else this.line(summary);
  }

  private tally(): string {
    const { uploaded, mounted, skipped, bytes } = this.blobs;
    return `blobs: ${uploaded} uploaded (${formatBytes(bytes)}), ${mounted} mounted, ${skipped} already present`;
  }

  private update(text: string): void {
    this.status = text;
    if (this.spinner) this.spinner.text = this.status;
  }

  private persist(symbol: string, text: string): void {
    if (!this.spinner) return this.line(text);
    this.spinner.stopAndPersist({ symbol, text });
    this.spinner.start(this.status);
  }

  private line(text: string): void {
    this.stream.write(`${new Date().toISOString()} ${text}\n`);
  }
}
