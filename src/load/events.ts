/** What a load reports while it runs; renderers turn these into progress output. */
export type Phase = 'reading' | 'planning' | 'uploading' | 'verifying';

export type BlobAction = 'uploaded' | 'mounted' | 'skipped';

export type LoadEvent =
  | { type: 'phase'; phase: Phase }
  | { type: 'archive'; archive: string; format: string; compression: string; images: number }
  /** Archive bytes read (file bytes, compressed): `total` covers every pass still planned. */
  | { type: 'read'; bytes: number; total: number }
  | { type: 'blob'; action: BlobAction; kind: 'layer' | 'config'; digest: string; size: number; repository: string }
  | { type: 'tag'; target: string; digest: string; platforms: string[] }
  | { type: 'notice'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'failure'; target: string; message: string };

export type EventSink = (event: LoadEvent) => void;
