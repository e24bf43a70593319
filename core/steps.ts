import { errorMessage } from './errors.js';
import { redact } from './redact.js';

export type StepOutcome = 'ok' | 'failed';

/** One step as it happened: its name, how long it took, how it ended and, when it failed, why. */
export interface StepRecord {
  step: string;
  seconds: number;
  outcome: StepOutcome;
  /** The failure's message, redacted: it goes into reports kept beside the backups. */
  error?: string;
}

export type StepResult<T> = { ok: true; value: T } | { ok: false; error: unknown; message: string };

/**
 * Runs named steps and records each outcome, a failing one included. A step's failure is returned, not thrown,
 * so the caller decides what it means and the record of what ran (and why it stopped) outlives the error.
 * An interruption (the signal) is not a failure to record and carry on from: it is recorded, then thrown.
 */
export class StepRunner {
  readonly records: StepRecord[] = [];

  constructor(private readonly options: { signal?: AbortSignal; onStart?: (step: string) => void } = {}) {}

  async run<T>(step: string, work: () => Promise<T>): Promise<StepResult<T>> {
    this.options.signal?.throwIfAborted();
    const result = await this.attempt(step, work);
    if (!result.ok && this.options.signal?.aborted) throw result.error;
    return result;
  }

  /** A clean-up step: runs even after an interruption, and its failure is recorded, never thrown. */
  cleanup<T>(step: string, work: () => Promise<T>): Promise<StepResult<T>> {
    return this.attempt(step, work);
  }

  get failed(): StepRecord[] {
    return this.records.filter((record) => record.outcome === 'failed');
  }

  private async attempt<T>(step: string, work: () => Promise<T>): Promise<StepResult<T>> {
    this.options.onStart?.(step);
    const at = Date.now();
    const seconds = () => (Date.now() - at) / 1000;
    try {
      const value = await work();
      this.records.push({ step, seconds: seconds(), outcome: 'ok' });
      return { ok: true, value };
    } catch (error) {
      const message = redact(errorMessage(error));
      this.records.push({ step, seconds: seconds(), outcome: 'failed', error: message });
      return { ok: false, error, message };
    }
  }
}
