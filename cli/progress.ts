import type { ProgressEvent } from '../backups/index.js';
import { formatSeconds } from '../core/duration.js';
import { formatBytes, type Output } from './output.js';

/** Renders progress events as one status line on a terminal: bytes, rate and, where the total is known, ETA. */
export function progressLine(out: Output): (event: ProgressEvent) => void {
  const started = Date.now();
  let phaseStarted = started;
  let phase = '';
  return (event) => {
    if (event.phase !== phase) {
      phase = event.phase;
      phaseStarted = Date.now();
    }
    const elapsed = Math.max(0.001, (Date.now() - phaseStarted) / 1000);
    switch (event.phase) {
      case 'database': {
        // pg_dump's output is compressed, so its final size is unknown: the ETA comes from the tables done.
        const eta =
          event.fraction !== undefined && event.fraction > 0.02 && event.fraction < 1
            ? `, ${Math.round(event.fraction * 100)}% of the tables, ETA ${formatSeconds((elapsed * (1 - event.fraction)) / event.fraction)}`
            : '';
        out.progress(
          `database: ${formatBytes(event.bytes)} dumped (${formatBytes(event.bytes / elapsed)}/s${eta})`,
        );
        break;
      }
      case 'attachments':
      case 'verify': {
        const fraction = event.total === 0 ? 1 : event.done / event.total;
        const eta =
          fraction > 0 && fraction < 1 ? `, ETA ${formatSeconds((elapsed * (1 - fraction)) / fraction)}` : '';
        out.progress(
          `${event.phase}: ${event.done}/${event.total} (${Math.round(fraction * 100)}%), ${formatBytes(event.bytes)} at ${formatBytes(event.bytes / elapsed)}/s${eta}`,
        );
        break;
      }
      case 'restore':
        out.progress(`restore: ${event.step}`);
        break;
      case 'note':
        out.info(event.message);
        break;
    }
  };
}

/**
 * Progress for a step-by-step command: on a terminal, the status line; otherwise (a CronJob's log) one line
 * per message with an ISO time stamp, at most one every `minIntervalMs` so a log stays readable. A step
 * still running after `heartbeatMs` is logged again, so a hung check shows in the log as hung.
 */
export function stepProgress(
  out: Output,
  options: { minIntervalMs?: number; heartbeatMs?: number; now?: () => number } = {},
): { step(message: string): void; stop(): void } {
  const now = options.now ?? Date.now;
  const minInterval = options.minIntervalMs ?? 2_000;
  const heartbeat = options.heartbeatMs ?? 30_000;
  const onTerminal = out.io.stderr.isTTY === true;
  let lastLogged = Number.NEGATIVE_INFINITY;
  let current = '';
  let since = now();
  const log = (message: string) => {
    lastLogged = now();
    out.info(`${new Date(lastLogged).toISOString()} ${message}`);
  };
  const timer = onTerminal
    ? undefined
    : setInterval(
        () => {
          if (current && now() - since >= heartbeat && now() - lastLogged >= heartbeat)
            log(`${current} (still running after ${Math.round((now() - since) / 1000)} s)`);
        },
        Math.min(heartbeat, 5_000),
      );
  timer?.unref();
  return {
    step(message) {
      current = message;
      since = now();
      if (onTerminal) out.progress(message);
      else if (now() - lastLogged >= minInterval) log(message);
    },
    stop() {
      if (timer) clearInterval(timer);
      out.clearProgress();
    },
  };
}
