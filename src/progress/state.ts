/**
 * What the renderers know of a run, built from its events: the phase, bytes read, what each
 * blob did, and per image (tag) how many of its layers are in place.
 */
import type { BlobAction, LoadEvent, Phase } from '../load/events.js';
import { formatBytes, rateAndEta } from './format.js';

type PlanEvent = Extract<LoadEvent, { type: 'plan' }>;

export interface ImageProgress {
  target: string;
  /** The target without its registry host, for narrow terminals. */
  name: string;
  platforms: string[];
  layers: number;
  bytes: number;
  layersDone: number;
  bytesDone: number;
  state: 'pending' | 'tagged' | 'failed';
}

export class Progress {
  phase: Phase = 'reading';
  phaseStarted = Date.now();
  plan?: PlanEvent;
  readonly blobs: Record<BlobAction, { count: number; bytes: number }> = {
    uploaded: { count: 0, bytes: 0 },
    mounted: { count: 0, bytes: 0 },
    skipped: { count: 0, bytes: 0 },
  };
  tagged = 0;
  failures = 0;
  private archives = 0;
  private sourceImages = 0;
  /** The latest read figures and the phase they belong to. */
  private read = { bytes: 0, total: 0, phase: 'reading' as Phase };
  private layersDone = 0;
  private layerBytesDone = 0;
  private readonly images = new Map<string, ImageProgress>();
  private readonly imagesByLayer = new Map<string, ImageProgress[]>();

  /** Takes an event in; returns the images whose last layer it put in place. */
  add(event: LoadEvent): ImageProgress[] {
    switch (event.type) {
      case 'phase':
        this.phase = event.phase;
        this.phaseStarted = Date.now();
        break;
      case 'archive':
        this.archives++;
        this.sourceImages += event.images;
        break;
      case 'read':
        this.read = { bytes: event.bytes, total: event.total, phase: this.phase };
        break;
      case 'plan':
        this.setPlan(event);
        break;
      case 'blob':
        this.blobs[event.action].count++;
        this.blobs[event.action].bytes += event.size;
        break;
      case 'layer':
        return this.layerDone(event.key, event.size, event.ok);
      case 'tag':
        this.tagged++;
        this.setState(event.target, 'tagged');
        break;
      case 'failure':
        this.failures++;
        this.setState(event.target, 'failed');
        break;
    }
    return [];
  }

  /** Images not yet tagged: those under way first, then those waiting for their tag, then the rest. */
  pendingImages(): ImageProgress[] {
    const rank = (i: ImageProgress) => (i.layersDone > 0 && i.layersDone < i.layers ? 0 : i.layersDone === i.layers ? 1 : 2);
    return [...this.images.values()].filter((i) => i.state === 'pending').sort((a, b) => rank(a) - rank(b));
  }

  /** `3 archive(s): 24 image(s), 427 KB` */
  archivesText(): string {
    return `${this.archives} archive(s): ${this.sourceImages} image(s), ${formatBytes(this.read.total)}`;
  }

  /** The current phase's totals, with rate and time left where bytes flow. */
  totalsText(): string {
    const elapsed = Date.now() - this.phaseStarted;
    if (this.read.phase === this.phase && this.read.total === 0 && this.read.bytes > 0) {
      return `received ${formatBytes(this.read.bytes)} from standard input`;
    }
    const read = this.read.phase === this.phase && this.read.total > 0 ? this.read : undefined;
    const readText = read ? `read ${formatBytes(read.bytes)} of ${formatBytes(read.total)}` : '';
    if (this.phase === 'uploading' && this.plan) {
      const layers = `layers ${this.layersDone}/${this.plan.layers} (${formatBytes(this.layerBytesDone)}/${formatBytes(this.plan.bytes)})`;
      // While the archives are read, their bytes pace the run; after, the uploads still queued do.
      const rate =
        read && read.bytes < read.total
          ? rateAndEta(read.bytes, read.total, elapsed)
          : rateAndEta(this.layerBytesDone, this.plan.bytes, elapsed);
      return [layers, readText, rate].filter(Boolean).join(' · ');
    }
    if (this.phase === 'verifying' && this.plan) return `tags ${this.tagged + this.failures}/${this.plan.tags.length}`;
    return read ? [readText, rateAndEta(read.bytes, read.total, elapsed)].filter(Boolean).join(' · ') : '';
  }

  private setPlan(plan: PlanEvent): void {
    this.plan = plan;
    for (const tag of plan.tags) {
      const image: ImageProgress = {
        target: tag.target,
        name: tag.target.slice(tag.target.indexOf('/') + 1),
        platforms: tag.platforms,
        layers: tag.layers.length,
        bytes: tag.bytes,
        layersDone: 0,
        bytesDone: 0,
        state: 'pending',
      };
      this.images.set(tag.target, image);
      for (const key of tag.layers) this.imagesByLayer.set(key, [...(this.imagesByLayer.get(key) ?? []), image]);
    }
  }

  /** A failed layer counts as done for the totals but never completes its images: their tags will fail. */
  private layerDone(key: string, size: number, ok: boolean): ImageProgress[] {
    this.layersDone++;
    this.layerBytesDone += size;
    const completed: ImageProgress[] = [];
    if (!ok) return completed;
    for (const image of this.imagesByLayer.get(key) ?? []) {
      image.layersDone++;
      image.bytesDone += size;
      if (image.layersDone === image.layers) completed.push(image);
    }
    return completed;
  }

  private setState(target: string, state: ImageProgress['state']): void {
    const image = this.images.get(target);
    if (image) image.state = state;
  }
}
