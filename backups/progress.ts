/** Progress events from long operations; the CLI turns them into a status line. */
export type ProgressEvent =
  | { phase: 'database'; bytes: number; fraction?: number }
  | { phase: 'attachments'; done: number; total: number; bytes: number }
  | { phase: 'verify'; done: number; total: number; bytes: number }
  | { phase: 'restore'; step: string; bytes?: number }
  | { phase: 'note'; message: string };

export type ProgressListener = (event: ProgressEvent) => void;
