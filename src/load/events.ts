/** What a load reports while it runs; renderers turn these into progress output. */
export type Phase = 'reading' | 'planning' | 'uploading' | 'verifying';

export type BlobAction = 'uploaded' | 'mounted' | 'skipped';

/** One tag of the plan: its platforms and the distinct layers its images need. */
export interface PlannedTagSummary {
  target: string;
  platforms: string[];
  /** Layer keys (diffID, or blob digest for layers stored compressed). */
  layers: string[];
  /** Bytes of those layers in the archives. */
  bytes: number;
}

export type LoadEvent =
  | { type: 'phase'; phase: Phase }
  | { type: 'archive'; archive: string; format: string; compression: string; images: number }
  /** Archive bytes read (file bytes, compressed): `total` covers every pass still planned. */
  | { type: 'read'; bytes: number; total: number }
  /** The work ahead, once the plan is built. */
  | { type: 'plan'; tags: PlannedTagSummary[]; layers: number; bytes: number }
  | { type: 'blob'; action: BlobAction; kind: 'layer' | 'config'; digest: string; size: number; repository: string }
  /** A distinct layer is in every repository that needs it (`ok`), or failed to get there. */
  | { type: 'layer'; key: string; size: number; ok: boolean }
  | { type: 'tag'; target: string; digest: string; platforms: string[] }
  | { type: 'notice'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'failure'; target: string; message: string };

export type EventSink = (event: LoadEvent) => void;

export interface WarningLog {
  messages: string[];
  warn: (message: string) => void;
}

/** A run's warnings (load, its dry run, sync): shown as they happen, and listed in its result. */
export function warningLog(emit: (event: { type: 'warning'; message: string }) => void): WarningLog {
  const messages: string[] = [];
  return {
    messages,
    warn: (message) => {
      messages.push(message);
      emit({ type: 'warning', message });
    },
  };
}
